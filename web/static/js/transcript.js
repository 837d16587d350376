// One transcript line (speaker, optional question tag and score badge, recording, text): the
// dashboard and the report render turns the same way.
import { t } from "./i18n.js";

export function transcriptItem(turn, { questionTag = false, scoreBadge = false } = {}) {
  const li = document.createElement("li");
  li.className = turn.speaker;
  if (turn.turn_id) li.dataset.turnId = turn.turn_id;
  const meta = document.createElement("div");
  meta.className = "meta";
  const who = document.createElement("span");
  who.className = "speaker";
  who.textContent = turn.speaker === "candidate" ? t("col_candidate") : t("interviewer");
  meta.append(who);
  if (questionTag && Number.isInteger(turn.question_index)) {
    const q = document.createElement("span");
    q.textContent = `Q${turn.question_index + 1}`;
    meta.append(q);
  }
  if (scoreBadge && turn.speaker === "candidate") {
    const badge = document.createElement("span");
    badge.className = "score";
    badge.dataset.role = "score";
    meta.append(badge);
  }
  if (turn.audio_url) {
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = turn.audio_url;
    audio.setAttribute("aria-label", `${t("listen")}: ${who.textContent}`);
    meta.append(audio);
  }
  const text = document.createElement("p");
  text.textContent = turn.text;
  li.append(meta, text);
  return li;
}

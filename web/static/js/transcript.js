// The transcript as the dashboard and the report show it: interviewer lines, and the candidate's
// answers. An answer is one or more candidate turns (a pause the interviewer took for the end, a
// line cut off by the candidate going on, a rejoin): they render as one block with one score.
import { t } from "./i18n.js";

// Mirrors evaluation/answers.py group_answers (the server's one rule; keep the two in step): an
// answer is keyed by (planned question index, follow-ups asked to it so far); an interviewer line
// counts as asked only when it was not interrupted, and only a follow-up line moves the ordinal.
export function answerKeys(turns) {
  const sorted = [...turns].sort((a, b) => a.seq - b.seq);
  const followUps = new Map();
  const out = new Map(); // seq -> { key, first: turn (the answer's first turn), index: part number }
  const firsts = new Map(); // key -> [first turn, parts so far]
  let last = 0;
  for (const turn of sorted) {
    if (turn.speaker !== "candidate" && turn.interrupted) continue;
    if (Number.isInteger(turn.question_index)) last = turn.question_index;
    if (turn.speaker !== "candidate") {
      if (turn.kind === "follow_up") followUps.set(last, (followUps.get(last) || 0) + 1);
      continue;
    }
    const key = `${last}.${followUps.get(last) || 0}`;
    if (!firsts.has(key)) firsts.set(key, [turn, 0]);
    const entry = firsts.get(key);
    entry[1] += 1;
    out.set(turn.seq, { key, first: entry[0], index: entry[1] });
  }
  return out;
}

function meta(speaker, tags) {
  const box = document.createElement("div");
  box.className = "meta";
  const who = document.createElement("span");
  who.className = "speaker";
  who.textContent = speaker === "candidate" ? t("col_candidate") : t("interviewer");
  box.append(who);
  for (const tag of tags) {
    if (!tag) continue;
    const span = document.createElement("span");
    span.textContent = tag;
    box.append(span);
  }
  return [box, who.textContent];
}

function audioFor(turn, who) {
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "none";
  audio.src = turn.audio_url;
  audio.setAttribute("aria-label", `${t("listen")}: ${who}`);
  return audio;
}

function questionTag(index, followUp) {
  if (!Number.isInteger(index)) return null;
  return followUp > 0 ? `Q${index + 1} · ${t("follow_up_tag", { n: followUp })}` : `Q${index + 1}`;
}

/** One interviewer line (a line the candidate cut off says so and reads as not asked). */
export function transcriptItem(turn, { questionTag: withTag = false, followUp = 0 } = {}) {
  const li = document.createElement("li");
  li.className = turn.speaker;
  if (turn.turn_id) li.dataset.turnId = turn.turn_id;
  const tags = [withTag ? questionTag(turn.question_index, followUp || 0) : null];
  if (turn.interrupted) {
    li.classList.add("interrupted");
    tags.push(t("interrupted"));
  }
  const [box, who] = meta(turn.speaker, tags);
  if (turn.audio_url) box.append(audioFor(turn, who));
  const text = document.createElement("p");
  text.textContent = turn.text;
  li.append(box, text);
  return li;
}

/** The transcript's list items: consecutive candidate turns of one answer share one block (a line
 * the candidate cut off stays inside it, marked); an answer picked up again after an interviewer
 * line (a rejoin, a prompt) continues in a block marked "continued" with the same score. */
export function renderTranscript(list, turns, { questionTags = false, scoreBadges = false } = {}) {
  list.innerHTML = "";
  const keys = answerKeys(turns);
  const parts = new Map();
  for (const { key } of keys.values()) parts.set(key, (parts.get(key) || 0) + 1);
  let open = null; // { key, li } of the answer block lines are being added to
  const asked = new Map(); // question index -> follow-ups asked (to tag the interviewer's lines)
  const sorted = [...turns].sort((a, b) => a.seq - b.seq);
  const nextAnswerKey = (i) => {
    const next = sorted.slice(i + 1).find((x) => x.speaker === "candidate");
    return next ? keys.get(next.seq).key : null;
  };
  for (const [i, turn] of sorted.entries()) {
    if (turn.speaker !== "candidate") {
      if (turn.kind === "follow_up" && !turn.interrupted && Number.isInteger(turn.question_index)) {
        asked.set(turn.question_index, (asked.get(turn.question_index) || 0) + 1);
      }
      // A cut line the candidate talked over and went on with the same answer sits inside it;
      // one the candidate then answered as the next question stands alone (marked cut off).
      if (turn.interrupted && open && nextAnswerKey(i) === open.key) {
        const cut = document.createElement("p");
        cut.className = "cut";
        cut.textContent = `${t("interviewer")} (${t("interrupted")}): ${turn.text}`;
        open.li.append(cut);
        continue;
      }
      open = null;
      const followUp = turn.kind === "follow_up" && !turn.interrupted ? asked.get(turn.question_index) : 0;
      list.append(transcriptItem(turn, { questionTag: questionTags, followUp }));
      continue;
    }
    const info = keys.get(turn.seq);
    if (!open || open.key !== info.key) {
      const li = document.createElement("li");
      li.className = "candidate answer";
      li.dataset.answerKey = info.key;
      li.dataset.answerId = info.first.turn_id || "";
      li.dataset.turnId = turn.turn_id || "";
      const [index, followUp] = info.key.split(".").map(Number);
      const n = parts.get(info.key);
      const tags = [
        questionTags ? questionTag(index, followUp) : null,
        info.index > 1 ? t("continued") : null,
        n > 1 && info.index === 1 ? t("answer_parts", { n }) : null,
      ];
      const [box] = meta("candidate", tags);
      if (scoreBadges) {
        const badge = document.createElement("span");
        badge.className = "score";
        badge.dataset.role = "score";
        box.append(badge);
      }
      li.append(box);
      list.append(li);
      open = { key: info.key, li };
    }
    const p = document.createElement("p");
    p.className = "part";
    p.dataset.seq = String(turn.seq);
    p.textContent = turn.text;
    if (turn.audio_url) p.prepend(audioFor(turn, t("col_candidate")), " ");
    open.li.append(p);
  }
  return keys;
}

// The interviewer dashboard: the live room list, and the selected room's transcript and scores.
import { applyTranslations, installLanguageToggle, t } from "./i18n.js";
import { listenState, startListening, stopListening } from "./listen.js";
import { LiveStream } from "./live.js";
import { ensureSignedIn, signOut } from "./signin.js";
import { renderTranscript } from "./transcript.js";

const $ = (id) => document.getElementById(id);
const rooms = new Map(); // interview_id -> summary
const view = { selected: null, turns: [], scores: new Map(), keys: new Map(), clockOffsetMs: 0 };
window.dashboardPage = { rooms, view, stream: "idle" };
let live = null;
const listening = { enabled: false, iceServers: [] }; // from /api/listening at start

const STATE_KEYS = { waiting: "room_waiting", live: "room_live", left: "room_left", ended: "room_ended" };

function elapsed(room) {
  if (!room.started_at) return "–";
  const start = Date.parse(room.started_at);
  const end = room.ended_at ? Date.parse(room.ended_at) : Date.now() + view.clockOffsetMs;
  const s = Math.max(0, Math.round((end - start) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function progress(room) {
  const n = room.question_count;
  const k = Math.min(n, (room.question_index ?? 0) + 1);
  return room.state === "waiting" ? `0 / ${n}` : `${room.state === "ended" ? n : k} / ${n}`;
}

function renderRooms() {
  const body = $("rooms").tBodies[0];
  body.innerHTML = "";
  const list = [...rooms.values()].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
  $("no-rooms").hidden = list.length > 0;
  for (const room of list) {
    const tr = document.createElement("tr");
    tr.className = "room";
    tr.dataset.interviewId = room.interview_id;
    tr.dataset.state = room.state;
    tr.setAttribute("aria-selected", String(room.interview_id === view.selected));
    const cells = [
      room.candidate_name || t("unknown"),
      room.target_role || "–",
      null,
      progress(room),
      elapsed(room),
    ];
    for (const [i, value] of cells.entries()) {
      const td = document.createElement("td");
      if (i === 2) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.dataset.state = room.state;
        badge.textContent = t(STATE_KEYS[room.state] || "unknown");
        td.append(badge);
      } else {
        td.textContent = value;
      }
      if (i === 4) td.className = "elapsed";
      if (i === 3) td.className = "progress";
      tr.append(td);
    }
    const open = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("open_room");
    button.setAttribute("aria-label", `${t("open_room")}: ${room.candidate_name || room.interview_id}`);
    button.addEventListener("click", (ev) => {
      ev.stopPropagation();
      select(room.interview_id);
    });
    open.append(button);
    tr.append(open);
    tr.addEventListener("click", () => select(room.interview_id));
    body.append(tr);
  }
  renderRoomHead();
}

function tickElapsed() {
  // A display clock only: it re-renders elapsed times locally and requests nothing.
  for (const tr of $("rooms").tBodies[0].rows) {
    const room = rooms.get(tr.dataset.interviewId);
    if (room && room.state === "live") tr.querySelector(".elapsed").textContent = elapsed(room);
  }
}

function select(id) {
  if (listenState.interviewId && listenState.interviewId !== id) stopListening();
  view.selected = id;
  view.turns = [];
  view.scores = new Map();
  $("transcript").innerHTML = "";
  history.replaceState(null, "", `#room=${id}`);
  live.send({ type: "watch", interview_id: id });
  renderRooms();
  $("h-room").focus?.();
}

function renderRoomHead() {
  const room = rooms.get(view.selected);
  const meta = $("room-meta");
  const link = $("report-link");
  if (!room) {
    meta.textContent = t("select_room");
    link.hidden = true;
    return;
  }
  const state = t(STATE_KEYS[room.state] || "unknown");
  meta.textContent = `${room.candidate_name || t("unknown")} · ${room.target_role || "–"} · ${state} · ${progress(room)}`;
  link.hidden = room.state !== "ended";
  link.href = `/report/${room.interview_id}`;
  link.textContent = room.report_ready ? t("open_report") : `${t("open_report")} (${t("report_pending")})`;
  renderListen(room);
}

// --- listening in ----------------------------------------------------------------------------------

function listeningTo(room) {
  return Boolean(room) && listenState.interviewId === room.interview_id;
}

function renderListen(room = rooms.get(view.selected)) {
  const isLive = Boolean(room) && room.state === "live";
  const mine = listeningTo(room);
  // A call that ended has nothing to hear (the server closes the connection too).
  if (mine && !isLive) stopListening();
  const active = mine && isLive && ["connecting", "listening"].includes(listenState.state);
  $("listen-box").hidden = !room || !listening.enabled;
  const button = $("listen");
  button.hidden = !isLive;
  button.textContent = t(active ? "stop_listening" : "listen");
  button.setAttribute("aria-pressed", String(active));
  const name = room?.candidate_name || room?.interview_id || "";
  button.setAttribute("aria-label", active ? t("stop_listening") : t("listen_to", { name }));
  const status = $("listen-status");
  if (active) status.textContent = t(listenState.state === "listening" ? "listen_live" : "listen_connecting");
  else if (mine && listenState.state === "stopped") status.textContent = t("listen_stopped");
  else if (mine && listenState.state === "failed") {
    status.textContent = t("listen_failed", { message: listenState.error });
  } else status.textContent = "";
}

async function toggleListen() {
  const room = rooms.get(view.selected);
  if (!room) return;
  const active = listeningTo(room) && ["connecting", "listening"].includes(listenState.state);
  if (active) {
    await stopListening();
    return;
  }
  try {
    await startListening(room.interview_id, $("listen-audio"), { iceServers: listening.iceServers });
  } catch {
    // listenState says why; renderListen shows it.
  }
}

async function loadListening() {
  try {
    const resp = await fetch("/api/listening");
    if (!resp.ok) return;
    const info = await resp.json();
    listening.enabled = Boolean(info.enabled);
    listening.iceServers = info.ice_servers || [];
  } catch {
    // Listening stays off: the button is not shown.
  }
  renderListen();
}

function scoreText(score) {
  if (!score || score.status === "running" || score.type === "score_started") return [t("scoring"), true];
  if (score.status === "failed") return [t("score_failed"), true];
  const value = typeof score.overall === "number" ? Math.round(score.overall) : "–";
  return [`${t("score")} ${value}`, false];
}

function renderTurns() {
  // One block per answer (consecutive candidate turns for one question), one score per answer.
  view.keys = renderTranscript($("transcript"), view.turns, { questionTags: true, scoreBadges: true });
  paintScores();
}

function scoreOf(li) {
  // Scores are keyed by the answer's first turn; a row from before answers were grouped may sit
  // on a later turn of the answer.
  const own = view.scores.get(li.dataset.answerId);
  if (own) return own;
  const ids = view.turns
    .filter((turn) => view.keys?.get(turn.seq)?.key === li.dataset.answerKey)
    .map((turn) => turn.turn_id)
    .reverse();
  return ids.map((id) => view.scores.get(id)).find(Boolean);
}

function paintScores() {
  for (const li of $("transcript").querySelectorAll("li.answer")) {
    const badge = li.querySelector("[data-role=score]");
    if (!badge) continue;
    const [text, pending] = scoreText(scoreOf(li));
    badge.textContent = text;
    badge.classList.toggle("pending", pending);
  }
}

function addTurn(turn, { render = true } = {}) {
  if (!turn.turn_id || view.turns.some((x) => x.turn_id === turn.turn_id)) return;
  view.turns.push(turn);
  if (render) renderTurns();
}

function onMessage(msg) {
  switch (msg.type) {
    case "rooms":
      rooms.clear();
      for (const room of msg.rooms) rooms.set(room.interview_id, room);
      renderRooms();
      break;
    case "room":
      rooms.set(msg.room.interview_id, msg.room);
      renderRooms();
      break;
    case "progress": {
      const room = rooms.get(msg.interview_id);
      if (room && Number.isInteger(msg.question_index)) {
        room.question_index = Math.max(room.question_index ?? 0, msg.question_index);
        if (room.state === "waiting" || room.state === "left") room.state = "live";
        room.started_at ||= new Date(Date.now() + view.clockOffsetMs).toISOString();
        renderRooms();
      }
      break;
    }
    case "interview":
      if (msg.interview.interview_id !== view.selected) break;
      view.clockOffsetMs = Date.parse(msg.server_time) - Date.now();
      rooms.set(msg.interview.interview_id, msg.interview);
      for (const score of msg.scores || []) view.scores.set(score.turn_id, score);
      for (const turn of msg.turns) addTurn(turn, { render: false });
      renderTurns();
      renderRooms();
      break;
    case "turn":
      addTurn(msg);
      break;
    case "score":
    case "score_started":
      if (msg.type === "score_started" && view.scores.get(msg.turn_id)?.type === "score") break;
      view.scores.set(msg.turn_id, msg);
      paintScores();
      break;
    case "report_ready": {
      const room = rooms.get(msg.interview_id);
      if (room) room.report_ready = true;
      renderRoomHead();
      break;
    }
    default:
      break;
  }
}

function onStatus(status) {
  window.dashboardPage.stream = status;
  const box = $("notice");
  if (status === "reconnecting") {
    box.hidden = false;
    box.textContent = t("stream_lost");
  } else if (status === "open") {
    box.hidden = true;
    // A fresh connection starts from a fresh snapshot: ask again for the room being watched.
    if (view.selected) {
      view.turns = [];
      $("transcript").innerHTML = "";
      live.send({ type: "watch", interview_id: view.selected });
    }
  } else if (status === "denied") {
    location.reload(); // the session expired: show the sign-in form
  }
}

async function start() {
  applyTranslations();
  installLanguageToggle($("lang-toggle"), () => {
    renderRooms();
    renderTurns();
  });
  const name = await ensureSignedIn($("signin"));
  $("who").textContent = t("signed_in_as", { name });
  $("sign-out").hidden = false;
  $("sign-out").addEventListener("click", signOut);
  $("board").hidden = false;
  listenState.onChange = () => renderListen();
  $("listen").addEventListener("click", toggleListen);
  loadListening();
  $("h-room").tabIndex = -1;
  const hash = location.hash.match(/room=([0-9a-f-]{36})/i);
  if (hash) view.selected = hash[1];
  live = new LiveStream("/api/live", { onMessage, onStatus });
  setInterval(tickElapsed, 1000);
}

start();

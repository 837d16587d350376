// The candidate's page: resume upload, microphone check, the call with captions and progress.
import { applyTranslations, installLanguageToggle, t, uiLanguage } from "./i18n.js";
import { Level, audioContext, showLevel } from "./audio.js";
import { LiveStream } from "./live.js";

const $ = (id) => document.getElementById(id);
const VOICED = 0.02; // RMS above which a 20 ms window counts as speech
const MAX_REJOINS = 6;

// What the page knows; also read by the browser tests and the benchmark.
const page = {
  phase: "resume",
  callState: "idle",
  interviewId: null,
  token: null,
  interview: null,
  turns: [],
  ended: false,
  metrics: { joinClickedAt: null, firstAudioAt: null, joinToFirstAudioMs: null, rejoins: 0 },
};
window.interviewPage = page;

let live = null;
let iceServers = [];
let mic = null; // MediaStream
let micLevel = null;
let remoteLevel = null;
let pc = null;
let rejoinTimer = null;
let disconnectTimer = null;
let rejoinAttempts = 0;
let lastRemoteVoice = 0;
let lastLocalVoice = 0;
let localSpeechStart = 0;
let awaitingReply = false;
let meterTimer = null;

function setPhase(phase) {
  page.phase = phase;
  document.body.dataset.phase = phase;
  $("step-resume").hidden = phase !== "resume";
  $("step-mic").hidden = phase !== "mic";
  $("step-call").hidden = phase !== "call" && phase !== "ended";
}

function notice(text, kind = "info") {
  const box = $("notice");
  if (!text) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.dataset.kind = kind;
  box.textContent = text;
}

// --- step 1: resume -------------------------------------------------------------------------------

async function apiError(resp) {
  // Preparing an interview takes an interviewer's sign-in unless the server has open intake.
  if (resp.status === 401 && /\/api\/(resumes|interviews)$/.test(new URL(resp.url).pathname)) {
    return t("intake_sign_in");
  }
  if (resp.status === 429) return t("too_many_requests");
  try {
    const body = await resp.json();
    return body?.error?.message || resp.statusText;
  } catch {
    return resp.statusText;
  }
}

async function uploadResume(ev) {
  ev.preventDefault();
  const file = $("resume-file").files[0];
  if (!file) return;
  const status = $("resume-status");
  $("upload").disabled = true;
  status.textContent = t("uploading");
  try {
    const form = new FormData();
    form.append("file", file);
    const resp = await fetch("/api/resumes", { method: "POST", body: form });
    if (!resp.ok) throw new Error(await apiError(resp));
    const resume = await resp.json();
    page.resume = resume;
    $("parsed-name").textContent = resume.parsed?.header?.name || t("not_found");
    $("parsed-role").textContent = resume.target_role || t("not_found");
    $("parsed").hidden = false;
    $("create").hidden = false;
    status.textContent = "";
    $("create").focus();
  } catch (err) {
    status.textContent = t("error_generic", { message: err.message });
  } finally {
    $("upload").disabled = false;
  }
}

async function createInterview() {
  const status = $("resume-status");
  $("create").disabled = true;
  status.textContent = t("creating");
  const params = new URLSearchParams(location.search);
  const body = {
    resume_id: page.resume.id,
    language: document.querySelector("input[name=language]:checked").value,
  };
  if (params.get("questions")) body.question_count = Number(params.get("questions"));
  if (params.get("follow_ups") === "0") body.follow_ups = false;
  try {
    const resp = await fetch("/api/interviews", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!resp.ok) throw new Error(await apiError(resp));
    const interview = await resp.json();
    status.textContent = "";
    // The interview's own link from now on: a reload or a lost tab comes back to this interview.
    history.replaceState(null, "", `/interview/${interview.id}?token=${encodeURIComponent(interview.join_token)}`);
    openInterview(interview.id, interview.join_token);
  } catch (err) {
    status.textContent = t("error_generic", { message: err.message });
    $("create").disabled = false;
  }
}

// --- the live stream ------------------------------------------------------------------------------

function openInterview(id, token) {
  page.interviewId = id;
  page.token = token;
  setPhase("mic");
  $("mic-test").focus();
  const query = new URLSearchParams({ interview: id, token });
  live = new LiveStream(`/api/live?${query}`, { onMessage, onStatus: onStreamStatus });
  showListenNotice();
}

async function showListenNotice() {
  // Say so before and during the call when an interviewer may listen in; say nothing otherwise.
  try {
    const resp = await fetch("/api/listening");
    const { enabled } = resp.ok ? await resp.json() : { enabled: false };
    for (const el of document.querySelectorAll(".listen-notice")) el.hidden = !enabled;
  } catch {
    // No answer: nothing to announce.
  }
}

function onStreamStatus(status) {
  if (status === "denied") {
    notice(t("link_invalid"), "error");
    $("join").disabled = true;
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case "interview":
      page.interview = msg.interview;
      iceServers = msg.ice_servers || iceServers;
      for (const turn of msg.turns) addTurn(turn);
      renderProgress();
      if (msg.interview.state === "ended") finish();
      break;
    case "turn":
      addTurn(msg);
      if (msg.speaker === "interviewer") awaitingReply = false;
      renderProgress();
      break;
    case "ended":
      finish();
      break;
    case "error":
      if (pc) {
        notice(t("server_error"), "warn");
        scheduleRejoin(1000);
      }
      break;
    case "hangup":
      // The server ended a silent or over-long call: offer to join again rather than rejoining by
      // ourselves, which would take the room again for a call nobody is in.
      clearTimeout(rejoinTimer);
      closePeer();
      setCallState("left");
      notice(t(msg.reason === "max_duration" ? "hung_up_max_duration" : "hung_up_silence"), "warn");
      showJoinAgain();
      break;
    case "missing":
    case "denied":
      notice(t("link_invalid"), "error");
      break;
    default:
      break;
  }
}

function addTurn(turn) {
  if (!turn.turn_id || page.turns.some((x) => x.turn_id === turn.turn_id)) return;
  page.turns.push(turn);
  if (Number.isInteger(turn.question_index) && page.interview) {
    page.interview.question_index = Math.max(page.interview.question_index ?? 0, turn.question_index);
  }
  const li = document.createElement("li");
  li.className = `line ${turn.speaker}`;
  li.dataset.turnId = turn.turn_id;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = turn.speaker === "candidate" ? t("you") : t("interviewer");
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = turn.text;
  li.append(who, text);
  $("captions").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function renderProgress() {
  const iv = page.interview;
  if (!iv) return;
  const n = iv.question_count;
  const k = Math.min(n, (iv.question_index ?? 0) + 1);
  $("progress-text").textContent = t("progress", { k, n });
  $("progress").max = n;
  $("progress").value = page.ended ? n : k;
}

function relabel() {
  for (const li of $("captions").children) {
    li.querySelector(".who").textContent = li.classList.contains("candidate") ? t("you") : t("interviewer");
  }
  renderProgress();
  renderState();
}

// --- step 2: microphone ---------------------------------------------------------------------------

async function getMicrophone() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (err) {
    const missing = err && (err.name === "NotFoundError" || err.name === "OverconstrainedError");
    const message = missing ? t("mic_missing") : t("mic_denied");
    $("mic-status").textContent = message;
    notice(message, "error");
    page.micError = err ? err.name : "unknown";
    throw err;
  }
}

function releaseMicrophone() {
  if (micLevel) micLevel.close();
  micLevel = null;
  if (mic) for (const track of mic.getTracks()) track.stop();
  mic = null;
}

async function testMicrophone() {
  releaseMicrophone();
  notice(null);
  let heard = false;
  try {
    mic = await getMicrophone();
  } catch {
    return;
  }
  micLevel = new Level(mic);
  $("join").disabled = false;
  $("mic-status").textContent = t("mic_quiet");
  startMeters(() => {
    if (!micLevel) return;
    const level = micLevel.percent();
    showLevel($("mic-meter"), level);
    if (!heard && micLevel.rms() > VOICED) {
      heard = true;
      $("mic-status").textContent = t("mic_ok");
    }
  });
}

function startMeters(tick) {
  clearInterval(meterTimer);
  // Local audio analysis only: no request is made on this timer.
  meterTimer = setInterval(tick, 50);
}

// --- step 3: the call -----------------------------------------------------------------------------

async function join() {
  if (page.ended) return;
  $("join").disabled = true;
  notice(null);
  page.metrics.joinClickedAt = performance.now();
  page.metrics.firstAudioAt = null;
  page.metrics.joinToFirstAudioMs = null;
  audioContext(); // created inside the click, so the browser lets it play
  // A fresh capture for the call (the check's stream is released when the call starts).
  releaseMicrophone();
  try {
    mic = await getMicrophone();
  } catch {
    $("join").disabled = false;
    return;
  }
  micLevel = new Level(mic);
  setPhase("call");
  setCallState("connecting");
  startMeters(stateTick);
  rejoinAttempts = 0;
  await connect();
}

async function waitForIce(conn) {
  if (conn.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    const done = () => {
      if (conn.iceGatheringState === "complete") resolve();
    };
    conn.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // take what was gathered: host candidates come first
  });
}

async function connect() {
  closePeer();
  const conn = new RTCPeerConnection({ iceServers });
  pc = conn;
  for (const track of mic.getAudioTracks()) conn.addTrack(track, mic);
  conn.addEventListener("track", (ev) => {
    if (ev.track.kind !== "audio") return;
    const stream = ev.streams[0] || new MediaStream([ev.track]);
    $("remote-audio").srcObject = stream;
    if (remoteLevel) remoteLevel.close();
    remoteLevel = new Level(stream);
  });
  conn.addEventListener("connectionstatechange", () => onConnectionState(conn));
  try {
    await conn.setLocalDescription(await conn.createOffer());
    await waitForIce(conn);
    if (pc !== conn) return;
    const resp = await fetch(`/api/interviews/${page.interviewId}/offer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sdp: conn.localDescription.sdp, type: "offer", token: page.token }),
    });
    if (resp.status === 401 || resp.status === 404) {
      notice(t("link_invalid"), "error");
      closePeer();
      setCallState("left");
      return;
    }
    if (resp.status === 409) {
      finish();
      return;
    }
    if (resp.status === 503) {
      notice(t("server_busy"), "warn");
      const wait = Number(resp.headers.get("retry-after") || 5) * 1000;
      scheduleRejoin(wait);
      return;
    }
    if (!resp.ok) throw new Error(await apiError(resp));
    const answer = await resp.json();
    if (Array.isArray(answer.ice_servers)) iceServers = answer.ice_servers;
    if (pc !== conn) return;
    await conn.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  } catch (err) {
    if (pc !== conn) return;
    notice(t("error_generic", { message: err.message }), "error");
    scheduleRejoin(2000);
  }
}

function onConnectionState(conn) {
  if (conn !== pc) return;
  const state = conn.connectionState;
  if (state === "connected") {
    clearTimeout(disconnectTimer);
    if (rejoinAttempts > 0) notice(t("reconnected"), "info");
    rejoinAttempts = 0;
    return;
  }
  if (state === "disconnected") {
    // Often a blip that ICE repairs by itself; rejoin if it does not within a few seconds.
    clearTimeout(disconnectTimer);
    disconnectTimer = setTimeout(() => {
      if (conn === pc && conn.connectionState !== "connected") scheduleRejoin(0);
    }, 4000);
  }
  // "closed" on the current connection means the server hung up on us (we null `pc` before closing).
  if (state === "failed" || state === "closed") scheduleRejoin(0);
}

function scheduleRejoin(delayMs) {
  if (page.ended || page.phase !== "call") return;
  clearTimeout(rejoinTimer);
  if (rejoinAttempts >= MAX_REJOINS) {
    closePeer();
    notice(t("reconnect_failed"), "error");
    setCallState("left");
    showJoinAgain();
    return;
  }
  rejoinAttempts += 1;
  page.metrics.rejoins += 1;
  notice(t("connection_lost"), "warn");
  setCallState("connecting");
  const backoff = Math.max(delayMs, 500 * 2 ** (rejoinAttempts - 1));
  rejoinTimer = setTimeout(() => connect(), Math.min(backoff, 10000));
}

function closePeer() {
  clearTimeout(disconnectTimer);
  if (!pc) return;
  const old = pc;
  pc = null;
  old.close();
}

function stateTick() {
  const now = performance.now();
  if (micLevel) {
    showLevel($("call-meter"), micLevel.percent());
    if (micLevel.rms() > VOICED) {
      if (now - lastLocalVoice > 700) localSpeechStart = now;
      lastLocalVoice = now;
    }
  }
  if (remoteLevel && remoteLevel.rms() > VOICED) {
    lastRemoteVoice = now;
    awaitingReply = false;
    if (page.metrics.firstAudioAt === null && page.metrics.joinClickedAt !== null) {
      page.metrics.firstAudioAt = now;
      page.metrics.joinToFirstAudioMs = Math.round(now - page.metrics.joinClickedAt);
    }
  }
  if (lastLocalVoice && now - lastLocalVoice > 700 && lastLocalVoice - localSpeechStart > 500) {
    awaitingReply = true; // the candidate finished a stretch of speech: the interviewer is up
    localSpeechStart = lastLocalVoice; // counted once
  }
  if (page.callState === "ended" || page.callState === "left" || !pc) return;
  if (pc.connectionState !== "connected" && !lastRemoteVoice) return setCallState("connecting");
  if (now - lastRemoteVoice < 300) setCallState("speaking");
  else if (now - lastLocalVoice < 700) setCallState("listening");
  else if (awaitingReply) setCallState("thinking");
  else setCallState("listening");
}

function setCallState(state) {
  if (page.callState === state) return;
  page.callState = state;
  renderState();
}

function renderState() {
  const pill = $("call-state");
  pill.dataset.state = page.callState;
  const key = {
    connecting: "state_connecting",
    listening: "state_listening",
    thinking: "state_thinking",
    speaking: "state_speaking",
    ended: "state_ended",
    left: "state_left",
  }[page.callState];
  if (key) $("call-state-text").textContent = t(key);
}

function finish() {
  if (page.ended) return;
  page.ended = true;
  clearTimeout(rejoinTimer);
  setPhase("ended");
  setCallState("ended");
  renderProgress();
  notice(t("ended"), "success");
  $("end-call").hidden = true;
  // Let the closing words finish playing before hanging up.
  const hangUp = () => {
    closePeer();
    releaseMicrophone();
    clearInterval(meterTimer);
  };
  if (performance.now() - lastRemoteVoice < 300) setTimeout(hangUp, 1500);
  else hangUp();
}

function endCall() {
  const dialog = $("confirm-end");
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue !== "end") return;
      clearTimeout(rejoinTimer);
      closePeer();
      releaseMicrophone();
      setCallState("left");
      notice(t("left"), "info");
      showJoinAgain();
    },
    { once: true },
  );
  dialog.showModal();
}

function showJoinAgain() {
  setPhase("mic");
  $("join").disabled = false;
  $("join").focus();
}

// --- start ----------------------------------------------------------------------------------------

function start() {
  applyTranslations();
  installLanguageToggle($("lang-toggle"), relabel);
  const lang = uiLanguage();
  const radio = document.querySelector(`input[name=language][value=${lang}]`);
  if (radio) radio.checked = true;
  $("resume-form").addEventListener("submit", uploadResume);
  $("create").addEventListener("click", createInterview);
  $("mic-test").addEventListener("click", testMicrophone);
  $("join").addEventListener("click", join);
  $("end-call").addEventListener("click", endCall);
  const match = location.pathname.match(/^\/interview\/([0-9a-f-]{36})$/i);
  const token = new URLSearchParams(location.search).get("token");
  if (match && token) openInterview(match[1], token);
  else setPhase("resume");
}

start();

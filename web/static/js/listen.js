// Listening in on a live call from the dashboard: a receive-only WebRTC connection that plays the
// server's mix of both sides. The candidate's call is never touched: this is a separate connection.
// window.listenState ({state, interviewId, bytesReceived, audioLevel, peakLevel}) mirrors what the
// page shows, for tests.

const STATS_MS = 500;

export const listenState = { state: "idle", interviewId: null, listenerId: null, bytesReceived: 0, error: null };
window.listenState = listenState;

let session = null; // {pc, interviewId, listenerId, statsTimer}

async function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 3000); // take what was gathered: host candidates come first
  });
}

function set(state, changes = {}) {
  Object.assign(listenState, { state }, changes);
  listenState.onChange?.(listenState);
}

async function readStats(pc) {
  let bytes = 0;
  let level = 0;
  for (const report of (await pc.getStats()).values()) {
    if (report.type === "inbound-rtp" && (report.kind || report.mediaType) === "audio") {
      bytes += report.bytesReceived || 0;
      level = Math.max(level, report.audioLevel || 0);
    }
  }
  return { bytes, level };
}

/** Start hearing `interviewId`'s call in `audio`; resolves once the server answered. */
export async function startListening(interviewId, audio, { iceServers = [] } = {}) {
  await stopListening();
  const pc = new RTCPeerConnection({ iceServers });
  const mine = { pc, interviewId, listenerId: null, statsTimer: null };
  session = mine;
  set("connecting", { interviewId, listenerId: null, bytesReceived: 0, audioLevel: 0, peakLevel: 0, error: null });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addEventListener("track", (ev) => {
    audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    audio.play?.().catch(() => {}); // autoplay may be refused until the page was clicked: it was
  });
  pc.addEventListener("connectionstatechange", () => {
    if (session !== mine) return;
    if (pc.connectionState === "connected") set("listening");
    // The server closes the connection when the call ends; "disconnected" may still recover.
    if (pc.connectionState === "failed" || pc.connectionState === "closed") {
      closeSession(mine);
      if (mine.listenerId) deleteListener(interviewId, mine.listenerId);
      set("stopped");
    }
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    const resp = await fetch(`/api/interviews/${interviewId}/listen`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
    });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      throw Object.assign(new Error(body?.error?.message || `HTTP ${resp.status}`), { status: resp.status });
    }
    const answer = await resp.json();
    if (session !== mine) {
      // Stopped while the offer was in flight: tell the server too.
      await deleteListener(interviewId, answer.listener_id);
      return;
    }
    mine.listenerId = answer.listener_id;
    listenState.listenerId = answer.listener_id;
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    mine.statsTimer = setInterval(async () => {
      if (session !== mine) return;
      const stats = await readStats(pc).catch(() => null);
      if (stats) {
        listenState.bytesReceived = stats.bytes;
        // What the listener hears now (0..1, from the decoded audio), and the loudest so far.
        listenState.audioLevel = stats.level;
        listenState.peakLevel = Math.max(listenState.peakLevel || 0, stats.level);
      }
      listenState.onChange?.(listenState);
    }, STATS_MS);
  } catch (err) {
    if (session === mine) {
      closeSession(mine);
      set("failed", { error: err.message });
    }
    throw err;
  }
}

function closeSession(s) {
  clearInterval(s.statsTimer);
  s.pc.close();
  if (session === s) session = null;
}

async function deleteListener(interviewId, listenerId) {
  // keepalive: the stop still reaches the server when the page is being closed.
  await fetch(`/api/interviews/${interviewId}/listen/${listenerId}`, { method: "DELETE", keepalive: true }).catch(
    () => {},
  );
}

/** Stop listening (one click); does nothing when not listening. */
export async function stopListening() {
  const s = session;
  if (!s) return;
  closeSession(s);
  set("idle", { interviewId: null, listenerId: null });
  if (s.listenerId) await deleteListener(s.interviewId, s.listenerId);
}

window.addEventListener("pagehide", () => {
  stopListening();
});

// The page's one live stream: a WebSocket that the server pushes snapshots and events over.
// Reconnects with backoff when the connection drops (a fresh snapshot follows each reconnect);
// stops for good when the server denies access (close codes 4401/4403).

const DENIED = new Set([4401, 4403]);

export class LiveStream {
  /**
   * @param {string} path e.g. "/api/live" or "/api/live?interview=...&token=..."
   * @param {{onMessage: (msg: object) => void, onStatus?: (status: string) => void}} handlers
   */
  constructor(path, { onMessage, onStatus = () => {} }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.closed = false;
    this.socket = null;
    this.pending = [];
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${this.path}`;
  }

  connect() {
    if (this.closed) return;
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onStatus("open");
      for (const msg of this.pending.splice(0)) socket.send(JSON.stringify(msg));
    });
    socket.addEventListener("message", (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onMessage(msg);
    });
    socket.addEventListener("close", (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (DENIED.has(ev.code)) {
        this.closed = true;
        this.onStatus("denied");
        return;
      }
      if (this.closed) return;
      // 0.5 s, 1 s, 2 s ... at most 15 s between tries, with jitter.
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.onStatus("reconnecting");
      setTimeout(() => this.connect(), delay);
    });
  }

  /** Send now, or as soon as the socket is open (requests are replayed after a reconnect by the caller). */
  send(msg) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
    else this.pending.push(msg);
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close(1000);
  }
}

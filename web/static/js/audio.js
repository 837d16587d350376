// Audio levels from a MediaStream through a WebAudio analyser (used for the meters, the
// listening/thinking/speaking state and the time to the first audio heard).

let sharedContext = null;

export function audioContext() {
  if (!sharedContext) sharedContext = new AudioContext();
  if (sharedContext.state === "suspended") sharedContext.resume();
  return sharedContext;
}

export class Level {
  constructor(stream) {
    const ctx = audioContext();
    this.source = ctx.createMediaStreamSource(stream);
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  /** Root-mean-square level of the latest ~20 ms, 0..1. */
  rms() {
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const v of this.buffer) sum += v * v;
    return Math.sqrt(sum / this.buffer.length);
  }

  /** 0..100 on a log scale that makes speech fill most of a meter. */
  percent() {
    const db = 20 * Math.log10(this.rms() + 1e-9);
    return Math.max(0, Math.min(100, Math.round(((db + 60) / 60) * 100)));
  }

  close() {
    this.source.disconnect();
  }
}

/** Fill a `.meter` element (role="meter" when it is announced). */
export function showLevel(meter, percent) {
  meter.querySelector(".meter-fill").style.width = `${percent}%`;
  if (meter.getAttribute("role") === "meter") meter.setAttribute("aria-valuenow", String(percent));
}

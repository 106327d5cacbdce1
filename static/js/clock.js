// The view's virtual clock. The server says where virtual time was (t), whether it runs
// (playing) and how fast (speed, virtual seconds per wall second) with every batch and
// clock message. The display clock advances smoothly at that speed every animation frame
// and is nudged towards the server's time, never backwards, so motion stays smooth
// whatever the network jitter. It runs a little behind the server (PLAYOUT_MS of wall
// time) so events are usually in hand before the display reaches their moment.

const PLAYOUT_MS = 120;
const CORRECT_PER_S = 4; // how fast a drift from the server's time is corrected
const STEP_EASE_PER_S = 10; // how fast a paused clock glides to a stepped-to moment

export class VirtualClock {
  constructor() {
    this.reset(0, false, 1);
  }

  reset(t, playing, speed) {
    this.serverT = t;
    this.serverWall = performance.now();
    this.playing = playing;
    this.speed = speed;
    this.display = t;
    this.lastWall = null;
  }

  /** New information from the server (batch end time, clock message, snapshot). */
  sync(t, playing, speed) {
    this.serverT = t;
    this.serverWall = performance.now();
    if (typeof playing === "boolean") this.playing = playing;
    if (typeof speed === "number" && speed > 0) this.speed = speed;
  }

  /** Where the display should be now, by the server's account. */
  target(now) {
    if (!this.playing) return this.serverT;
    return this.serverT + ((now - this.serverWall - PLAYOUT_MS) / 1000) * this.speed;
  }

  /** Advance the display clock to wall time `now` (ms); returns the display time. */
  tick(now, instant = false) {
    const dt = this.lastWall === null ? 0 : Math.min(0.25, (now - this.lastWall) / 1000);
    this.lastWall = now;
    const target = this.target(now);
    const err = target - this.display;
    if (instant) {
      if (err > 0 || !this.playing) this.display = target;
      return this.display;
    }
    if (this.playing) {
      // A big gap (tab was hidden, a long pause): jump rather than race.
      if (Math.abs(err) > Math.max(2, this.speed * 1.5)) {
        this.display = Math.max(this.display, target);
      } else {
        this.display += Math.max(0, dt * this.speed + err * Math.min(1, dt * CORRECT_PER_S));
      }
    } else if (err > 0) {
      const glide = err * Math.min(1, dt * STEP_EASE_PER_S);
      this.display = err < 1e-3 ? target : this.display + Math.max(glide, Math.min(err, 1e-3));
    }
    return this.display;
  }
}

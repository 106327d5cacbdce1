// Server -> page: what the connection receives, handed on. A snapshot replaces the store's
// projection and starts the view afresh; a batch queues its events in the store; pacing
// (snapshot, batch, clock) goes to the store and the clock; the join answer builds what
// depends on the server (presets, limits, failure points) and applies the bookmark. A
// re-sync snapshot (after a command got no answer) is said as such, and so is a run the
// server no longer had (restarted): a notice and the status line.
import { RUN_REPLACED } from "./words.js";

export class Feed {
  /**
   * @param {object} o store, clock, view (ViewState), panels, log, controls,
   *   failureControls, bookmark, indicator, commands (says when a re-sync is done),
   *   announcer, notice, stats (counters for tests and bench)
   */
  constructor(o) {
    Object.assign(this, o);
    this.snapshotSeen = false;
    this.joined = false;
    this.ready = false;
  }

  onSnapshot(snap) {
    const { store, clock, view } = this;
    this.stats.snapshots++;
    store.loadSnapshot(snap);
    clock.reset(snap.t, !!snap.playing && !snap.held_back, snap.speed || 1);
    view.reset();
    this.panels.reset();
    this.log.reset();
    this.controls.showRun();
    this.failureControls.render(store.failures);
    this.panels.render(clock.display, performance.now());
    this.log.render(true);
    // A re-sync after a command without an answer says so; a fresh view says how to start.
    if (!this.commands.snapshotDrawn() && !snap.playing) {
      const orN = store.metricsRun() ? "" : ", or Send order (N)";
      this.announcer.say(`${snap.t > 0 ? "Paused" : "Ready, paused at the start"}: press Play (Space) to run, Step (→) to go one event at a time${orN}.`);
    }
    this.snapshotSeen = true;
    this.markReady();
  }

  onBatch(batch) {
    this.stats.batches++;
    this.stats.events += batch.events.length;
    this.store.setPacing(batch);
    this.clock.sync(batch.t, batch.playing && !batch.held_back, batch.speed);
    this.store.enqueue(batch.events);
  }

  onClock(c) {
    this.store.setPacing(c);
    this.clock.sync(c.t, c.playing && !c.held_back, c.speed);
    this.controls.showSpeed(this.clock.speed);
  }

  onJoined(answer) {
    const limits = answer.limits || {};
    this.controls.setPresets(answer.presets);
    this.controls.setLimits(limits);
    this.controls.showRun();
    this.failureControls.build(limits.failure_points || Object.keys(this.store.failures));
    this.failureControls.render(this.store.failures);
    this.joined = true;
    this.markReady();
    if (answer.replaced) {
      // Never silently: the run the page showed is gone, a new one starts at t = 0.
      const [head, line] = RUN_REPLACED;
      if (this.notice) this.notice.show(head, [line]);
      this.announcer.say(`${head} ${line}`);
    }
    this.bookmark.apply(answer, this.controls.presets, limits);
  }

  onState(state, detail) {
    this.indicator.show(state, detail);
    if (state === "reconnecting") this.clock.sync(this.clock.display, false); // freeze motion while away
  }

  onError(message) {
    this.announcer.say(`Problem: ${message}`);
  }

  // Usable: the first snapshot is drawn and the controls built from the join answer are live.
  markReady() {
    if (this.ready || !this.snapshotSeen || !this.joined) return;
    this.ready = true;
    document.body.dataset.ready = "true";
    performance.mark("amo-usable");
  }
}

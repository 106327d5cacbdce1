// Server -> page: what the connection receives, handed on. A snapshot replaces the store's
// projection and starts the view afresh; a batch queues its events in the store; pacing
// (snapshot, batch, clock) goes to the store and the clock; the join answer builds what
// depends on the server (presets, limits, failure points) and applies the bookmark. A
// re-sync snapshot (after a command got no answer) is said as such, and so is a run the
// server no longer had (restarted): a notice and the status line.
import { t } from "./i18n.js";
import { RUN_REPLACED } from "./words.js";

const HISTORY_FOR_LOG = 2000; // events fetched to fill the log after a snapshot
const DIAGRAM_BACKFILL = 20000; // and to draw the diagram of a run seen from midway

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
    if (this.timeline) this.timeline.onSnapshot(snap);
    if (this.share && this.ready) this.share.changed(); // the address bar follows the run
    this.backfillLog(snap);
    this.backfillDiagram(snap);
    this.panels.render(clock.display, performance.now());
    this.log.render(true);
    // A re-sync after a command without an answer says so; a fresh view says how to start.
    if (!this.commands.snapshotDrawn() && !snap.playing) {
      const key = store.metricsRun()
        ? (snap.t > 0 ? "feed.paused-metrics" : "feed.ready-metrics")
        : (snap.t > 0 ? "feed.paused" : "feed.ready");
      this.announcer.say(t(key));
    }
    this.snapshotSeen = true;
    this.markReady();
  }

  /** The log after a snapshot (a seek, a reload): the events that led up to it, from the
   * server's history (rebuilt from its checkpoints), at most a log's worth. */
  async backfillLog(snap) {
    if (!snap.seq || !this.commands) return;
    const which = this.stats.snapshots; // a later snapshot makes this answer stale
    const from = Math.max(1, snap.seq - HISTORY_FOR_LOG + 1);
    const a = await this.commands.send("history", { from_seq: from, to_seq: snap.seq }, { quiet: true });
    if (!a.ok || a.run !== snap.run || this.stats.snapshots !== which) return;
    this.view.prependLog(a.events || []);
    this.log.render(true);
  }

  /** The space-time diagram after a snapshot of a run it has not seen from its start (a
   * fork, an import, a reload): the run's history up to the snapshot, from the server, when
   * the run is paused (nothing newer can arrive meanwhile); at most DIAGRAM_BACKFILL events. */
  async backfillDiagram(snap) {
    const d = this.diagram;
    if (!d || !snap.seq || snap.playing || !this.commands) return;
    // Only a run that began before this page saw it: a fork, an import, or the first
    // snapshot after the page (re)loaded.
    if (!(snap.forked_from || snap.imported || this.stats.snapshots === 1)) return;
    const which = this.stats.snapshots;
    await new Promise((r) => requestAnimationFrame(r)); // the diagram has taken the new run
    if (d.lastSeq >= snap.seq) return; // it saw this run (a seek in its past)
    const events = [];
    for (let from = Math.max(1, snap.seq - DIAGRAM_BACKFILL + 1); from <= snap.seq;) {
      const a = await this.commands.send("history", { from_seq: from, to_seq: snap.seq }, { quiet: true });
      if (!a.ok || a.run !== snap.run || this.stats.snapshots !== which || !a.events.length) return;
      events.push(...a.events);
      from = a.to_seq + 1;
    }
    if (this.stats.snapshots !== which || d.lastSeq > snap.seq) return;
    d.clear();
    d.add(events);
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
    if (this.share && limits.max_import) this.share.maxImport = limits.max_import;
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
    this.announcer.say(t("feed.problem", { message }));
  }

  // Usable: the first snapshot is drawn and the controls built from the join answer are live.
  markReady() {
    if (this.ready || !this.snapshotSeen || !this.joined) return;
    this.ready = true;
    document.body.dataset.ready = "true";
    performance.mark("amo-usable");
  }
}

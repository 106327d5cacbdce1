// The animation loop: every frame the display clock moves on, the store applies the events
// whose moment has come, the view state and the status line hear of them, and the stage
// draws. Panels, log and failure controls redraw a few times a second, and only what changed.

import { runOver } from "./words.js";

const PANEL_INTERVAL_MS = 100;
const BUSY_PANEL_INTERVAL_MS = 250;

/**
 * @param {object} o store, clock, view (ViewState), stage, diagram (the space-time diagram), panels, log, failureControls,
 *   controls, timeline, announcer, stats, reducedMotion (a MediaQueryList)
 */
export function startLoop({ store, clock, view, stage, diagram, panels, log, failureControls, controls, timeline, announcer, stats, reducedMotion }) {
  let lastPanels = 0;
  let lastLog = 0;
  let eventsAtLastPanels = 0;
  let lastLogCount = 0;
  let overSaid = false; // "Run over" is said once per end, when the display has caught up

  function frame(now) {
    stats.frames++;
    const reduced = reducedMotion.matches;
    stage.reducedMotion = reduced;
    const t = clock.tick(now, reduced);
    const applied = store.applyUntil(t);
    if (applied) {
      view.applied(applied, performance.now());
      announcer.events(applied);
    }
    if (!store.pacing.over) overSaid = false;
    else if (!overSaid && store.pendingCount() === 0) {
      overSaid = true;
      announcer.say(runOver(clock.serverT, store.counts, store.metricsRun()));
    }
    stage.draw(t, now);
    if (diagram) diagram.frame(t, applied);
    if (view.dirty.failures) {
      view.dirty.failures = false;
      failureControls.render(store.failures);
      controls.showCaption();
    }
    // A busy stream (thousands of events a second): panels refresh less often.
    const busy = stats.events - eventsAtLastPanels > 300;
    if (now - lastPanels >= (busy ? BUSY_PANEL_INTERVAL_MS : PANEL_INTERVAL_MS)) {
      eventsAtLastPanels = stats.events;
      lastPanels = now;
      panels.render(t, now);
      // A busy stream: the log (text only) refreshes less often than the panels.
      if (view.logCount - lastLogCount < 200 || now - lastLog >= 300) {
        lastLog = now;
        lastLogCount = view.logCount;
        log.render();
      }
      controls.showPlaying();
      if (timeline) timeline.frame();
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
}

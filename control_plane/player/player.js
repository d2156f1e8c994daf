// The gosd live video page: plays the HTTP-FLV stream named by ?src= with mpegts.js,
// tuned for low latency, reconnects with back-off when the stream ends or fails, and
// shows what is happening (state, frames decoded, buffered latency).
//
// Only streams of this server are played: the page is public and a viewer URL carries a
// token, so a page that fetched any address it was given could be turned against its
// user. The Content-Security-Policy (connect-src 'self') would block another host anyway;
// refusing here says why on the page instead of failing silently.
//
// Tests read window.gosdPlayer (and data-state / data-frames on #player).
"use strict";

(function () {
  /** mpegts.js settings: every one chosen for a live picture with little delay. */
  const LOW_LATENCY = {
    isLive: true,
    enableWorker: false, // the worker is a blob: script; the CSP allows only this server
    enableStashBuffer: false, // hand each FLV tag to the decoder at once
    lazyLoad: false, // never pause the download of a live stream
    liveBufferLatencyChasing: true, // jump forward when the buffer grows too long ...
    liveBufferLatencyMaxLatency: 1.0, // ... beyond this many seconds ...
    liveBufferLatencyMinRemain: 0.3, // ... to this many seconds before its end
    autoCleanupSourceBuffer: true, // hours of viewing keep memory bounded
    autoCleanupMaxBackwardDuration: 30,
    autoCleanupMinBackwardDuration: 10,
  };
  const BACKOFF_FIRST_S = 0.5;
  const BACKOFF_MAX_S = 10;
  const TICK_MS = 250; // how often the readout is refreshed and progress checked
  const STALLED_AFTER_S = 2; // no new picture this long: stalled
  const RESTART_STALLED_AFTER_S = 8; // stalled this long: reconnect
  const CONNECT_TIMEOUT_S = 15; // no picture this long after connecting: reconnect
  const HEALTHY_AFTER_S = 5; // playing this long: the back-off starts again from the first step

  const root = document.getElementById("player");
  const video = document.getElementById("video");
  const stateText = document.getElementById("state");
  const framesText = document.getElementById("frames");
  const latencyText = document.getElementById("latency");
  const reconnectsText = document.getElementById("reconnects");
  const messageText = document.getElementById("message");
  const srcInput = document.getElementById("src");

  const status = {
    state: "idle", // idle | connecting | playing | stalled | ended | error
    error: "", // what went wrong, as shown on the page
    framesDecoded: 0, // all connections together
    currentTime: 0, // the video element's, in seconds
    latencyS: null, // buffered media ahead of the play position, in seconds
    reconnects: 0,
    src: "", // the resolved stream address
  };
  window.gosdPlayer = status;

  let player = null;
  let url = null;
  let retryTimer = null;
  let attempt = 0;
  let framesBefore = 0; // frames of the connections before this one
  let frameBaseline = 0; // the element's frame count when this connection began
  let lastFrames = 0;
  let lastTime = 0;
  let lastProgressAt = 0;
  let connectedAt = 0;
  let playingSince = null;

  function now() {
    return performance.now() / 1000;
  }

  function setState(state, message) {
    status.state = state;
    status.error = message || "";
    root.dataset.state = state;
    stateText.textContent = state;
    messageText.textContent = status.error;
    messageText.hidden = !status.error;
  }

  /** The stream's URL, or why it is refused. */
  function resolve(raw) {
    let resolved;
    try {
      resolved = new URL(raw, window.location.href);
    } catch (e) {
      return { error: "refused: " + JSON.stringify(raw) + " is not an address" };
    }
    if (resolved.origin !== window.location.origin) {
      return {
        error:
          "refused: " + (resolved.origin === "null" ? resolved.protocol : resolved.origin) +
          " is not this server; this page plays only streams of " + window.location.origin +
          " (give a path such as /gosd/api/v2/nodes/1/points/1/live.flv?token=…)",
      };
    }
    return { url: resolved.href };
  }

  function destroy() {
    if (player === null) return;
    framesBefore += decodedNow();
    const old = player;
    player = null;
    try {
      old.pause();
      old.unload();
      old.detachMediaElement();
      old.destroy();
    } catch (e) {
      // A player that failed half-way may refuse to stop: it is dropped either way.
    }
  }

  /** Frames the browser decoded on this connection (the element's count may or may not
   * restart when a new stream is attached to it). */
  function decodedNow() {
    if (player === null || !video.getVideoPlaybackQuality) return 0;
    const total = video.getVideoPlaybackQuality().totalVideoFrames;
    if (total < frameBaseline) frameBaseline = 0;
    return total - frameBaseline;
  }

  function connect() {
    retryTimer = null;
    destroy();
    setState("connecting");
    connectedAt = now();
    lastProgressAt = connectedAt;
    lastFrames = 0;
    lastTime = 0;
    playingSince = null;
    frameBaseline = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
    player = mpegts.createPlayer({ type: "flv", isLive: true, url: url }, LOW_LATENCY);
    player.on(mpegts.Events.ERROR, onError);
    player.on(mpegts.Events.LOADING_COMPLETE, function () {
      retry("ended", "");
    });
    player.attachMediaElement(video);
    player.load();
    const playing = player.play();
    if (playing && playing.catch) {
      playing.catch(function (e) {
        // An AbortError is a reconnect replacing this play; anything else is the
        // browser refusing to play (the video is muted, so autoplay should be allowed).
        if (e && e.name !== "AbortError") {
          setState("error", "the browser would not play: " + e.message + " (press play)");
        }
      });
    }
  }

  function onError(type, detail, info) {
    const code = info && info.code;
    let text = type + ": " + detail;
    if (typeof code === "number" && code > 0) text += " (HTTP " + code + (info.msg ? " " + info.msg : "") + ")";
    else if (info && info.msg) text += " (" + info.msg + ")";
    if (code === 401 || code === 403) {
      // A refused token does not get better by asking again: a new one is needed.
      destroy();
      setState("error", text + "; the stream's token was refused: open the page with a new one");
      return;
    }
    retry("error", text);
  }

  /** Show why the stream stopped, then connect again after a jittered, capped back-off. */
  function retry(state, message) {
    destroy();
    const delay = Math.min(BACKOFF_MAX_S, BACKOFF_FIRST_S * Math.pow(2, attempt));
    attempt += 1;
    const wait = delay * (0.5 + Math.random() / 2);
    setState(state, (message ? message + "; " : "") + "reconnecting in " + wait.toFixed(1) + " s");
    status.reconnects += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, wait * 1000);
  }

  function tick() {
    if (player === null) return;
    const t = now();
    const frames = decodedNow();
    const time = video.currentTime;
    status.framesDecoded = framesBefore + frames;
    status.currentTime = time;
    const buffered = video.buffered;
    status.latencyS = buffered.length ? Math.max(0, buffered.end(buffered.length - 1) - time) : null;

    if (frames > lastFrames && time > lastTime) {
      lastProgressAt = t;
      if (status.state !== "playing") {
        setState("playing");
        playingSince = t;
      }
      if (playingSince !== null && t - playingSince > HEALTHY_AFTER_S) attempt = 0;
    } else if (status.state === "playing" && t - lastProgressAt > STALLED_AFTER_S) {
      setState("stalled", "no new picture for " + STALLED_AFTER_S + " s");
      playingSince = null;
    } else if (status.state === "stalled" && t - lastProgressAt > RESTART_STALLED_AFTER_S) {
      retry("stalled", "no new picture for " + RESTART_STALLED_AFTER_S + " s");
      return;
    } else if (status.state === "connecting" && t - connectedAt > CONNECT_TIMEOUT_S) {
      retry("error", "no picture " + CONNECT_TIMEOUT_S + " s after connecting");
      return;
    }
    lastFrames = frames;
    lastTime = time;
    render();
  }

  function render() {
    root.dataset.frames = String(status.framesDecoded);
    framesText.textContent = String(status.framesDecoded);
    latencyText.textContent = status.latencyS === null ? "–" : status.latencyS.toFixed(2) + " s";
    reconnectsText.textContent = String(status.reconnects);
  }

  function start() {
    const raw = new URLSearchParams(window.location.search).get("src");
    if (raw === null || raw === "") {
      setState("idle", "");
      srcInput.focus();
      return;
    }
    srcInput.value = raw;
    const resolved = resolve(raw);
    if (resolved.error) {
      setState("error", resolved.error);
      return;
    }
    if (typeof mpegts === "undefined") {
      setState("error", "the player library (vendor/mpegts.js) did not load");
      return;
    }
    if (!mpegts.isSupported() || !mpegts.getFeatureList().mseLivePlayback) {
      setState("error", "this browser cannot play live FLV (it lacks Media Source Extensions)");
      return;
    }
    url = resolved.url;
    status.src = url;
    setInterval(tick, TICK_MS);
    connect();
  }

  start();
})();

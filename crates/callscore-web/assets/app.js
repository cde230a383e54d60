// callscore review pages: the call page's player. Plain JavaScript, no dependencies.
// - Anything with data-seek="MS" (evidence, transcript times, "first failure") seeks the
//   player there and plays.
// - The transcript segment under the playhead is highlighted and kept in view.
// - ?t=MS in the page's URL opens the call at that moment (the flagged queue links there).
// - Speed, and for stereo recordings which leg to hear (Web Audio channel split).
(function () {
  'use strict';
  const audio = document.getElementById('player');
  if (!audio) return;
  const transcript = document.getElementById('transcript');
  const segments = transcript ? Array.from(transcript.querySelectorAll('.seg')) : [];
  const spans = segments.map((el) => [Number(el.dataset.start), Number(el.dataset.end)]);
  const follow = document.getElementById('follow');
  const errorBox = document.getElementById('player-error');

  function whenReady(fn) {
    // Seeking needs the duration; with preload="metadata" it arrives on its own.
    if (audio.readyState >= 1) fn();
    else audio.addEventListener('loadedmetadata', fn, { once: true });
  }

  function seek(ms, play) {
    whenReady(function () {
      audio.currentTime = ms / 1000;
      if (play) {
        const p = audio.play();
        if (p && p.catch) p.catch(function () { /* autoplay refused: the position is set */ });
      }
      highlight(true);
    });
  }

  let active = [];
  function highlight(force) {
    const t = audio.currentTime * 1000;
    let now = [];
    spans.forEach(function (s, i) { if (s[0] <= t && t < s[1]) now.push(i); });
    if (now.length === 0) {
      // Between turns: keep the last segment that started, so the place is not lost.
      let last = -1;
      spans.forEach(function (s, i) { if (s[0] <= t) last = i; });
      if (last >= 0) now = [last];
    }
    if (!force && now.length === active.length && now.every(function (i, k) { return i === active[k]; })) return;
    active.forEach(function (i) { segments[i].classList.remove('playing'); });
    now.forEach(function (i) { segments[i].classList.add('playing'); });
    active = now;
    if (now.length && (force || !follow || follow.checked)) keepInView(segments[now[0]]);
  }

  function keepInView(el) {
    // Scroll the transcript box only, never the page under the reviewer's cursor.
    const box = transcript;
    const top = el.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top + el.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTo({ top: Math.max(0, top - box.clientHeight / 3), behavior: 'smooth' });
    }
  }

  audio.addEventListener('timeupdate', function () { highlight(false); });
  audio.addEventListener('seeked', function () { highlight(false); });
  audio.addEventListener('error', function () {
    if (!errorBox) return;
    const code = audio.error ? audio.error.code : 0;
    errorBox.textContent = code === 4
      ? 'This browser cannot play this recording\u2019s format.'
      : 'The recording could not be loaded (error ' + code + ').';
    errorBox.hidden = false;
  });

  document.addEventListener('click', function (e) {
    const target = e.target.closest('[data-seek]');
    if (!target) return;
    e.preventDefault();
    document.querySelectorAll('.evidence.current').forEach(function (b) { b.classList.remove('current'); });
    if (target.classList.contains('evidence')) target.classList.add('current');
    seek(Number(target.dataset.seek), true);
  });

  const speed = document.getElementById('speed');
  if (speed) speed.addEventListener('change', function () { audio.playbackRate = Number(speed.value) || 1; });

  // Which leg to hear. Each channel goes to both ears, so one leg alone is not one-sided.
  const channels = document.getElementById('channels');
  const agentMark = document.getElementById('agent-channel');
  const agentIndex = agentMark && agentMark.dataset.channel === 'right' ? 1 : 0;
  let graph = null;
  function route(which) {
    if (!graph) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      const ctx = new Ctx();
      const source = ctx.createMediaElementSource(audio);
      const split = ctx.createChannelSplitter(2);
      const merge = ctx.createChannelMerger(2);
      const gains = [ctx.createGain(), ctx.createGain()];
      source.connect(split);
      gains.forEach(function (g, i) {
        split.connect(g, i);
        g.connect(merge, 0, 0);
        g.connect(merge, 0, 1);
      });
      merge.connect(ctx.destination);
      graph = { ctx: ctx, gains: gains };
    }
    graph.gains.forEach(function (g, i) {
      const isAgent = i === agentIndex;
      g.gain.value = which === 'both' || (which === 'agent') === isAgent ? 1 : 0;
    });
    if (graph.ctx.state === 'suspended') graph.ctx.resume();
  }
  if (channels) channels.addEventListener('change', function () { route(channels.value); });

  const start = new URLSearchParams(window.location.search).get('t');
  if (start !== null && /^\d+$/.test(start)) seek(Number(start), false);
})();

/* The campaign page: remember the browser's time zone (for local-midnight releases), count down, and flip
   to the listen buttons at the release moment without a reload. */
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) document.cookie = "psv_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  } catch (e) { /* no Intl: the server falls back to the campaign's zone */ }
  var timer = document.getElementById("countdown");
  if (!timer) return;
  var target;
  if (timer.dataset.release) {
    target = Date.parse(timer.dataset.release);
  } else {
    var p = timer.dataset.releaseLocal.split(/[-T:]/).map(Number);
    target = new Date(p[0], p[1] - 1, p[2], p[3] || 0, p[4] || 0, p[5] || 0).getTime();
  }
  if (isNaN(target)) return;
  function show(released) {
    document.querySelectorAll("[data-phase]").forEach(function (el) {
      el.hidden = (el.dataset.phase === "after") !== released;
    });
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var left = target - Date.now();
    if (left <= 0) { show(true); return; }
    show(false);
    var s = Math.floor(left / 1000), days = Math.floor(s / 86400);
    s %= 86400;
    timer.textContent = "Out in " + (days ? days + (days === 1 ? " day " : " days ") : "") +
      pad(Math.floor(s / 3600)) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    setTimeout(tick, 1000 - (Date.now() % 1000));
  }
  tick();
})();

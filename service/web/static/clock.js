// Live SLA countdowns: every <time data-due="ISO instant"> shows the time left until then (minus when overdue),
// in the page's language; paused clocks (data-paused) are left as the server rendered them.
(function () {
  var units = {ru: ["д", "ч", "мин"], en: ["d", "h", "min"]};
  function format(seconds, lang) {
    var u = units[lang] || units.ru, sign = seconds < 0 ? "−" : "", m = Math.floor(Math.abs(seconds) / 60);
    var d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), parts = [];
    m = m % 60;
    if (d) parts.push(d + " " + u[0]);
    if (h || d) parts.push(h + " " + u[1]);
    if (!d) parts.push(m + " " + u[2]);
    return sign + parts.join(" ");
  }
  function tick() {
    var lang = document.documentElement.lang, now = Date.now();
    document.querySelectorAll("time[data-due]").forEach(function (el) {
      if (el.dataset.paused) return;
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = format(left, lang);
      el.classList.toggle("overdue", left < 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 30000); });
})();

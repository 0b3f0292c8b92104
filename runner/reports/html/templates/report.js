// Filters the cards by state, model and text, kept in the URL's query so a filtered view can be
// shared; shows times in the reader's time zone. It reads data attributes and never writes HTML.
(function () {
  "use strict";
  var state = document.getElementById("filter-state");
  var model = document.getElementById("filter-model");
  var text = document.getElementById("filter-text");
  var shown = document.getElementById("shown");
  var none = document.getElementById("no-match");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var fields = { state: state, model: model, q: text };

  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    select.value = known ? value : "";
  }

  function fromUrl() {
    var query = new URLSearchParams(window.location.search);
    choose(state, query.get("state") || "");
    choose(model, query.get("model") || "");
    text.value = query.get("q") || "";
  }

  function toUrl() {
    var query = new URLSearchParams();
    Object.keys(fields).forEach(function (name) {
      if (fields[name].value) query.set(name, fields[name].value);
    });
    var search = query.toString();
    var url = window.location.pathname + (search ? "?" + search : "") + window.location.hash;
    try { window.history.replaceState(null, "", url); } catch (e) { /* a browser that refuses it on file:// */ }
  }

  function apply() {
    var wantState = state.value, wantModel = model.value;
    var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    cards.forEach(function (card) {
      var d = card.dataset;
      var ok = (!wantState || d.state === wantState) && (!wantModel || d.model === wantModel) &&
        words.every(function (w) { return d.search.indexOf(w) !== -1; });
      card.hidden = !ok;
      count += ok ? 1 : 0;
    });
    shown.textContent = count + " of " + cards.length + " jobs";
    none.hidden = count > 0 || cards.length === 0;
  }

  function changed() { apply(); toUrl(); }

  // Each time in the reader's time zone, named; the UTC text stays as the element's title.
  function localTimes() {
    var format;
    try {
      format = new Intl.DateTimeFormat(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
        second: "2-digit", timeZoneName: "short"
      });
    } catch (e) { return; }
    document.querySelectorAll("time.moment").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      el.title = el.textContent;
      el.textContent = format.format(when);
    });
  }

  [state, model].forEach(function (el) { el.addEventListener("change", changed); });
  text.addEventListener("input", changed);
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("clear-filters").addEventListener("click", function (e) {
    e.preventDefault();
    state.value = model.value = text.value = "";
    changed();
  });
  fromUrl();
  apply();
  localTimes();
})();

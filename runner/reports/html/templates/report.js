// Filters the cards by state, model and text; it reads data attributes and never writes HTML.
(function () {
  "use strict";
  var state = document.getElementById("filter-state");
  var model = document.getElementById("filter-model");
  var text = document.getElementById("filter-text");
  var shown = document.getElementById("shown");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
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
  }
  [state, model].forEach(function (el) { el.addEventListener("change", apply); });
  text.addEventListener("input", apply);
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
})();

// The emulator's dashboard: polls the admin API and draws what it says. Every value is
// inserted as text (textContent, attribute values), never parsed as HTML. State-changing calls
// carry the per-process token from the page's meta tag.
(function () {
  "use strict";
  function meta(name) { return document.querySelector('meta[name="' + name + '"]').content; }
  var ADMIN = meta("wanform-admin-prefix");
  var TOKEN = meta("wanform-admin-token");
  var TOKEN_HEADER = meta("wanform-token-header");
  var POLL_MS = 1000;
  var WINDOW = 500;  // the request log entries the page asks for (the API keeps its own window)
  var PAGE = 50;  // request rows drawn at first, and added by "show more"
  var drawn = {};
  var journal = { entries: [], rows: PAGE };

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (cell) {
      tr.appendChild(cell instanceof Node ? cell : el("td", cell));
    });
    return tr;
  }

  function say(text) { document.getElementById("status").textContent = text || ""; }

  function call(method, path, body) {
    var init = { method: method, headers: {}, credentials: "same-origin" };
    init.headers[TOKEN_HEADER] = TOKEN;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = body;
    }
    return fetch(ADMIN + path, init).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data && data.message) || response.statusText);
        return data;
      });
    });
  }

  function get(path) {
    return fetch(ADMIN + path, { credentials: "same-origin" }).then(function (r) { return r.json(); });
  }

  // Redraws a table body only when its data changed, so thumbnails do not flicker.
  function redraw(id, data, build) {
    var text = JSON.stringify(data);
    if (drawn[id] === text) return;
    drawn[id] = text;
    var body = document.querySelector("#" + id + " tbody");
    var rows = data.map(build);
    body.replaceChildren.apply(body, rows);
    labelled(id);
  }

  // Each cell carries its column's name, which a narrow screen shows beside it (see the CSS).
  function labelled(id) {
    var names = Array.prototype.map.call(
      document.querySelectorAll("#" + id + " thead th"), function (th) { return th.textContent; });
    document.querySelectorAll("#" + id + " tbody tr").forEach(function (tr) {
      Array.prototype.forEach.call(tr.children, function (td, i) { td.dataset.label = names[i] || ""; });
    });
  }

  function taskRow(task) {
    var status = el("td", task.status, "status status-" + task.status);
    var results = el("td", null, "results");
    task.thumbnails.forEach(function (url, i) {
      var img = document.createElement("img");
      img.src = url;
      img.alt = "image " + (i + 1);
      results.appendChild(img);
    });
    if (task.failure) results.appendChild(el("span", task.failure.code + ": " + task.failure.message));
    var tr = row([el("td", null), task.account, task.model, status, task.submit_time,
                  task.scheduled_time || "", task.end_time || task.canceled_time || "",
                  el("td", task.prompt, "prompt"), results]);
    tr.firstChild.appendChild(el("code", task.task_id));
    tr.dataset.taskId = task.task_id;
    tr.dataset.status = task.status;
    return tr;
  }

  function faultRow(rule) {
    var given = {};
    Object.keys(rule).forEach(function (k) {
      if (["id", "seen", "fired"].indexOf(k) === -1) given[k] = rule[k];
    });
    var remove = el("button", "remove");
    remove.type = "button";
    remove.addEventListener("click", function () {
      call("DELETE", "/faults/" + encodeURIComponent(rule.id)).then(refresh, function (e) { say(e.message); });
    });
    var cell = el("td");
    cell.appendChild(remove);
    var tr = row([rule.id, el("td", JSON.stringify(given)), rule.seen, rule.fired, cell]);
    tr.dataset.ruleId = rule.id;
    return tr;
  }

  function statusOf(entry) { return entry.status === null ? "dropped" : String(entry.status); }

  function requestRow(entry) {
    var guesses = entry.unverified || entry.guesses || [];
    var tr = row([entry.time, entry.account || "", entry.model || "", entry.method, entry.path,
                  statusOf(entry), entry.code || "", (entry.faults || []).join(", "),
                  Array.isArray(guesses) ? guesses.join(", ") : String(guesses)]);
    tr.dataset.status = statusOf(entry);
    return tr;
  }

  // A filter's choices: "all", then every value the entries have, keeping the one chosen.
  function choices(id, values) {
    var select = document.getElementById(id);
    var chosen = select.value;
    var known = values.filter(function (v, i) { return v && values.indexOf(v) === i; }).sort();
    if (known.indexOf(chosen) === -1 && chosen) known.push(chosen);
    var text = JSON.stringify(known);
    if (drawn[id] === text) return;
    drawn[id] = text;
    var options = [el("option", "all")];
    options[0].value = "";
    known.forEach(function (v) { options.push(el("option", v)); });
    select.replaceChildren.apply(select, options);
    select.value = chosen;
  }

  function wanted(entry) {
    var want = {
      account: document.getElementById("req-account").value,
      model: document.getElementById("req-model").value,
      status: document.getElementById("req-status").value,
      path: document.getElementById("req-path").value.trim()
    };
    return (!want.account || entry.account === want.account) &&
      (!want.model || entry.model === want.model) &&
      (!want.status || statusOf(entry) === want.status) &&
      (!want.path || entry.path.indexOf(want.path) !== -1);
  }

  // The request log newest first, filtered, at most `journal.rows` rows; counts per status.
  function drawJournal() {
    var entries = journal.entries;
    choices("req-account", entries.map(function (e) { return e.account || ""; }));
    choices("req-model", entries.map(function (e) { return e.model || ""; }));
    choices("req-status", entries.map(statusOf));
    var matching = entries.filter(wanted).reverse();
    var counts = {};
    matching.forEach(function (e) { counts[statusOf(e)] = (counts[statusOf(e)] || 0) + 1; });
    var line = document.getElementById("request-counts");
    var parts = Object.keys(counts).sort().map(function (s) {
      var span = el("span", counts[s] + " × " + s, "count status-" + s);
      span.dataset.status = s;
      return span;
    });
    line.replaceChildren.apply(line, [el("span", matching.length + " requests: ")].concat(parts));
    redraw("requests", matching.slice(0, journal.rows), requestRow);
    var shown = Math.min(journal.rows, matching.length);
    document.getElementById("requests-shown").textContent =
      matching.length ? shown + " of " + matching.length + " shown" : "no request matches";
    document.getElementById("requests-more").hidden = shown >= matching.length;
  }

  function accounts(list) {
    var select = document.getElementById("account");
    var chosen = select.value;
    var text = JSON.stringify(list);
    if (drawn.accounts === text) return;
    drawn.accounts = text;
    var options = [el("option", "every account")];
    options[0].value = "";
    list.forEach(function (a) {
      var option = el("option", a.key_id + " (" + a.tasks + " tasks)");
      option.value = a.key_id;
      options.push(option);
    });
    select.replaceChildren.apply(select, options);
    select.value = chosen;
  }

  function refresh() {
    var account = document.getElementById("account").value;
    var query = "/tasks?limit=200" + (account ? "&account=" + encodeURIComponent(account) : "");
    return Promise.all([get("/clock"), get(query), get("/faults"),
                        get("/requests?limit=" + WINDOW), get("/accounts")])
      .then(function (parts) {
        document.getElementById("clock").textContent = parts[0].time;
        document.getElementById("speed").textContent = parts[0].speed;
        redraw("tasks", parts[1].tasks, taskRow);
        redraw("faults", parts[2].faults, faultRow);
        journal.entries = parts[3].entries;
        drawJournal();
        accounts(parts[4].accounts);
      })
      .catch(function (e) { say("cannot reach the emulator: " + e.message); });
  }

  document.getElementById("advance-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var seconds = Number(document.getElementById("advance-seconds").value);
    call("POST", "/clock/advance", JSON.stringify({ seconds: seconds }))
      .then(function () { say(""); return refresh(); }, function (e) { say(e.message); });
  });
  document.getElementById("reset").addEventListener("click", function () {
    call("POST", "/reset").then(function () { say(""); return refresh(); }, function (e) { say(e.message); });
  });
  document.getElementById("fault-form").addEventListener("submit", function (event) {
    event.preventDefault();
    call("POST", "/faults", document.getElementById("fault-rule").value)
      .then(function () { say(""); return refresh(); }, function (e) { say(e.message); });
  });
  document.getElementById("account").addEventListener("change", refresh);
  function refilter() {
    journal.rows = PAGE;
    drawJournal();
  }
  ["req-account", "req-model", "req-status"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", refilter);
  });
  document.getElementById("req-path").addEventListener("input", refilter);
  document.getElementById("request-filters").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("requests-more").addEventListener("click", function () {
    journal.rows += PAGE;
    drawJournal();
  });
  document.getElementById("requests-window").textContent = WINDOW;
  refresh();
  setInterval(refresh, POLL_MS);
})();

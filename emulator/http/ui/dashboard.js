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
  var drawn = {};

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

  function requestRow(entry) {
    var guesses = entry.unverified || entry.guesses || [];
    return row([entry.time, entry.account || "", entry.method, entry.path,
                entry.status === null ? "dropped" : entry.status, entry.code || "",
                (entry.faults || []).join(", "),
                Array.isArray(guesses) ? guesses.join(", ") : String(guesses)]);
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
    return Promise.all([get("/clock"), get(query), get("/faults"), get("/requests?limit=200"),
                        get("/accounts")])
      .then(function (parts) {
        document.getElementById("clock").textContent = parts[0].time;
        document.getElementById("speed").textContent = parts[0].speed;
        redraw("tasks", parts[1].tasks, taskRow);
        redraw("faults", parts[2].faults, faultRow);
        redraw("requests", parts[3].entries, requestRow);
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
  refresh();
  setInterval(refresh, POLL_MS);
})();

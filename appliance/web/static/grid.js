// ЭЖ-box: the journal grid as a spreadsheet (templates/grid/show.html; no inline JS: CSP).
//
// One <input> (the editor) moves into the active cell: typing replaces the value,
// Enter / Tab / arrows / leaving the cell save it through the cell endpoints
// (POST /journal/marks, /journal/attendance). Every touched cell carries its state in
// data-state: saving, saved, unsaved (the network failed: queued and retried with
// backoff and on `online`) or error (the server refused: its Russian reason shows).
// Nothing typed is dropped silently: the page counts unsaved cells and warns on leave.
(function () {
  "use strict";

  var table = document.getElementById("journal-grid");
  if (!table || !table.tBodies.length) return;

  var writable = table.dataset.writable === "1";
  var scale = table.dataset.scale; // five | pass_fail | none
  var term = table.dataset.term || "";
  var urls = {
    mark: table.dataset.markUrl,
    attendance: table.dataset.attendanceUrl,
    history: table.dataset.historyUrl
  };
  var csrf = "";
  try {
    csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (e) { /* no token: the server will refuse with a clear message */ }

  var cols = Array.prototype.map.call(table.querySelectorAll("thead tr.sub th"), function (th) {
    return {
      th: th,
      kind: th.dataset.kind,
      lesson: th.dataset.lesson,
      assignment: th.dataset.assignment || "",
      locked: th.dataset.locked || "",
      label: th.getAttribute("aria-label") || th.textContent,
      creating: null, // the cell whose save makes this column's assignment
      waiting: []
    };
  });
  var rows = Array.prototype.filter.call(table.tBodies[0].rows, function (tr) {
    return tr.dataset.student;
  });
  if (!cols.length || !rows.length) return;

  var statusBox = document.getElementById("grid-status");
  var alertBox = document.getElementById("grid-alert");
  var historyButton = document.getElementById("history-button");
  var historyPanel = document.getElementById("cell-history");

  var states = new Map(); // td → {r, c, confirmed, wanted, sent, inflight}
  var pending = new Set(); // tds saving or unsaved
  var failed = new Set(); // tds the server refused
  var retryQueue = new Set();
  var retryTimer = null;
  var backoff = 0;
  var TRANSIENT = [0, 401, 408, 429, 502, 503, 504];
  var REQUEST_TIMEOUT_MS = 15000;

  // A teacher on an English keyboard layout types the Russian letters' keys.
  var LATIN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`";
  var CYRILLIC = "йцукенгшщзхъфывапролджэячсмитьбюё";

  var editor = document.createElement("input");
  editor.type = "text";
  editor.className = "cell-editor";
  editor.autocomplete = "off";
  editor.spellcheck = false;
  editor.setAttribute("autocapitalize", "off");
  var active = null;
  var pos = { r: 0, c: 0 };
  var original = "";
  var moving = false;

  function cellAt(r, c) { return rows[r].cells[c + 1]; }
  function studentOf(r) { return rows[r].dataset.student; }
  function studentName(r) { return rows[r].cells[0].textContent.trim(); }

  function blocked(td, col) {
    if (!writable) return "Журнал открыт только для чтения.";
    if (td.classList.contains("x")) return "Ученика нет в группе на дату урока.";
    return col.locked;
  }

  function toCyrillic(text) {
    return text.replace(/./g, function (ch) {
      var i = LATIN.indexOf(ch);
      return i < 0 ? ch : CYRILLIC[i];
    });
  }

  function normalize(col, raw) {
    var text = raw.trim().toLowerCase();
    if (col.kind === "attendance") return toCyrillic(text).toUpperCase();
    return scale === "five" ? text : toCyrillic(text);
  }

  // --- showing a cell ------------------------------------------------------------

  function setText(td, value) {
    var had = editor.parentNode === td;
    td.textContent = value;
    if (had) td.appendChild(editor);
  }

  function stateOf(td, r, c) {
    var s = states.get(td);
    if (!s) {
      s = { r: r, c: c, confirmed: td.textContent, wanted: null, sent: null, inflight: false };
      states.set(td, s);
    }
    return s;
  }

  var TITLES = { saving: "Сохраняется…", saved: "Сохранено" };

  function setState(td, state, message) {
    td.dataset.state = state;
    td.title = TITLES[state] || message || "";
    if (state === "saving" || state === "unsaved") pending.add(td); else pending.delete(td);
    if (state === "error") failed.add(td); else failed.delete(td);
    if (state !== "unsaved") retryQueue.delete(td);
    if (state === "saved" && alertCell === td) say("");
    updateStatus();
  }

  function updateStatus() {
    if (!statusBox) return;
    var parts = [];
    if (pending.size) parts.push("не сохранено: " + pending.size);
    if (failed.size) parts.push("ошибок: " + failed.size);
    if (!navigator.onLine) parts.push("нет сети — сохраним, когда связь вернётся");
    statusBox.textContent = parts.length ? parts.join(" · ") : "все изменения сохранены";
    statusBox.classList.toggle("warn", parts.length > 0);
  }

  // The alert line shows the latest refusal (or a refused cell's reason when it is
  // selected) until that cell is saved, so the message does not vanish on the next key.
  var alertCell = null;

  function say(message, td) {
    if (!alertBox) return;
    alertBox.textContent = message;
    alertCell = td || null;
  }

  // --- moving around -------------------------------------------------------------

  function activate(r, c, focus) {
    r = Math.max(0, Math.min(rows.length - 1, r));
    c = Math.max(0, Math.min(cols.length - 1, c));
    moving = true;
    if (active) {
      commit();
      active.classList.remove("active");
      if (editor.parentNode) editor.parentNode.removeChild(editor);
    }
    pos = { r: r, c: c };
    active = cellAt(r, c);
    var col = cols[c];
    original = active.textContent;
    active.classList.add("active");
    editor.value = original;
    editor.readOnly = !!blocked(active, col);
    editor.inputMode = col.kind === "mark" && scale === "five" ? "numeric" : "text";
    editor.maxLength = col.kind === "mark" ? 8 : 3;
    editor.setAttribute("aria-label", studentName(r) + ", " + col.label +
      (editor.readOnly ? ", только чтение" : ""));
    active.appendChild(editor);
    moving = false;
    if (focus !== false) {
      editor.focus({ preventScroll: true });
      editor.select();
      active.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    if (historyButton) historyButton.disabled = !historyUrl(active);
    var state = active.dataset.state;
    if (state === "error" || state === "unsaved") say(studentName(r) + ", " + col.label + ": " + active.title, active);
  }

  function move(dr, dc) { activate(pos.r + dr, pos.c + dc); }

  // Tab walks the rows like text; at either end of the grid it leaves it (no trap).
  function tabMove(back) {
    var c = pos.c + (back ? -1 : 1);
    var r = pos.r;
    if (c >= cols.length) { c = 0; r += 1; }
    if (c < 0) { c = cols.length - 1; r -= 1; }
    if (r < 0 || r >= rows.length) { commit(); return false; }
    activate(r, c);
    return true;
  }

  // --- editing and saving --------------------------------------------------------

  function commit() {
    if (!active) return;
    var col = cols[pos.c];
    var value = normalize(col, editor.value);
    if (value === normalize(col, original)) {
      editor.value = original;
      return;
    }
    var reason = blocked(active, col);
    if (reason) { editor.value = original; say(reason); return; }
    var s = stateOf(active, pos.r, pos.c);
    original = value;
    editor.value = value;
    setText(active, value);
    s.wanted = value;
    setState(active, "saving");
    send(active);
  }

  function send(td) {
    var s = states.get(td);
    if (!s || s.inflight || s.wanted === null) return;
    var col = cols[s.c];
    if (col.kind === "mark" && !col.assignment) {
      // The lesson has no assignment yet: the first save makes it; the rest wait for its id.
      if (col.creating && col.creating !== td) {
        if (col.waiting.indexOf(td) < 0) col.waiting.push(td);
        return;
      }
      col.creating = td;
    }
    s.inflight = true;
    s.sent = s.wanted;
    setState(td, "saving");
    var body = new URLSearchParams();
    if (col.kind === "mark") {
      if (col.assignment) body.set("assignment", col.assignment);
      else body.set("lesson", col.lesson);
      body.set("term", term);
    } else {
      body.set("lesson", col.lesson);
    }
    body.set("student", studentOf(s.r));
    body.set("value", s.sent);
    request("POST", col.kind === "mark" ? urls.mark : urls.attendance, body).then(function (res) {
      done(td, res);
    });
  }

  function request(method, url, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return fetch(url, {
      method: method,
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "HX-Request": "true" },
      signal: controller.signal
    }).then(function (response) {
      return response.text().then(function (text) {
        // A redirect (to the login page) is not an answer about the cell.
        return { status: response.redirected ? 401 : response.status, text: text };
      });
    }).catch(function () {
      return { status: 0, text: "" };
    }).then(function (res) {
      clearTimeout(timer);
      return res;
    });
  }

  function fragment(text) {
    var box = document.createElement("template");
    box.innerHTML = text;
    return box.content;
  }

  function done(td, res) {
    var s = states.get(td);
    var col = cols[s.c];
    s.inflight = false;
    var frag = fragment(res.text);
    var answer = res.status === 200 ? frag.querySelector("[data-value]") : null;
    if (answer) {
      backoff = 0;
      s.confirmed = answer.dataset.value;
      if (col.kind === "mark" && !col.assignment && answer.dataset.assignment) {
        col.assignment = answer.dataset.assignment;
        col.th.dataset.assignment = col.assignment;
        col.th.classList.remove("new");
      }
      swapOutOfBand(frag);
      if (s.wanted === s.sent) {
        s.wanted = null;
        show(td, s.confirmed);
        setState(td, "saved");
      } else {
        send(td); // typed again while this one was on its way
      }
    } else if (TRANSIENT.indexOf(res.status) >= 0 || res.status === 200) {
      setState(td, "unsaved", unsavedReason(res.status));
      retryLater(td);
    } else {
      var message = (frag.textContent || "").trim() || ("Не сохранено (ошибка " + res.status + ").");
      if (s.wanted === s.sent) {
        s.wanted = null;
        setState(td, "error", message + (s.confirmed ? " В журнале: «" + s.confirmed + "»." : ""));
        say(studentName(s.r) + ", " + col.label + ": " + message, td);
      } else {
        send(td);
      }
    }
    if (col.creating === td) {
      col.creating = null;
      var waiting = col.waiting;
      col.waiting = [];
      waiting.forEach(send);
    }
  }

  function unsavedReason(status) {
    if (status === 401) return "Не сохранено: сеанс завершён. Войдите снова в другой вкладке — значение сохранится само.";
    if (status === 0) return "Не сохранено: нет связи с сервером. Повторим автоматически.";
    return "Не сохранено: сервер занят. Повторим автоматически.";
  }

  function show(td, value) {
    var editing = td === active && normalize(cols[pos.c], editor.value) !== normalize(cols[pos.c], original);
    setText(td, value);
    if (td === active && !editing) {
      original = value;
      editor.value = value;
      if (document.activeElement === editor) editor.select();
    }
  }

  // htmx's out-of-band swap, done by hand: the row's new average and marks count.
  function swapOutOfBand(frag) {
    Array.prototype.forEach.call(frag.querySelectorAll("[hx-swap-oob][id]"), function (el) {
      var target = document.getElementById(el.id);
      if (!target) return;
      el.removeAttribute("hx-swap-oob");
      target.replaceWith(el.cloneNode(true));
    });
  }

  function retryLater(td) {
    retryQueue.add(td);
    if (retryTimer) return;
    var delay = Math.min(30000, 1000 * Math.pow(2, backoff)) * (0.8 + Math.random() * 0.4);
    backoff = Math.min(backoff + 1, 5);
    retryTimer = setTimeout(retryNow, delay);
  }

  function retryNow() {
    clearTimeout(retryTimer);
    retryTimer = null;
    var cells = Array.from(retryQueue);
    retryQueue.clear();
    cells.forEach(send);
  }

  window.addEventListener("online", function () { backoff = 0; updateStatus(); retryNow(); });
  window.addEventListener("offline", updateStatus);
  window.addEventListener("beforeunload", function (event) {
    commit();
    if (pending.size) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // --- history -------------------------------------------------------------------

  function historyUrl(td) {
    if (td !== active || td.classList.contains("x")) return "";
    var col = cols[pos.c];
    var row = col.kind === "mark" ? col.assignment : col.lesson;
    if (!row) return ""; // a lesson's empty column: no assignment, no history yet
    return urls.history + "?kind=" + col.kind + "&row=" + row + "&student=" + studentOf(pos.r);
  }

  function showHistory() {
    var url = active && historyUrl(active);
    if (!url || !historyPanel) return;
    historyPanel.hidden = false;
    historyPanel.textContent = "Загружаем историю…";
    request("GET", url).then(function (res) {
      if (res.status === 200) historyPanel.innerHTML = res.text;
      else historyPanel.textContent = res.status === 0
        ? "История недоступна: нет связи с сервером."
        : "История недоступна (ошибка " + res.status + ").";
    });
  }

  // --- events --------------------------------------------------------------------

  editor.addEventListener("keydown", function (event) {
    var key = event.key;
    if (event.altKey && /^[hHрР]$/.test(key)) { event.preventDefault(); showHistory(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var col = cols[pos.c];
    switch (key) {
      case "ArrowUp": move(-1, 0); break;
      case "ArrowDown": move(1, 0); break;
      case "ArrowLeft": move(0, -1); break;
      case "ArrowRight": move(0, 1); break;
      case "Enter": move(event.shiftKey ? -1 : 1, 0); break;
      case "Home": activate(pos.r, 0); break;
      case "End": activate(pos.r, cols.length - 1); break;
      case "Tab": if (!tabMove(event.shiftKey)) return; break;
      case "Escape": editor.value = original; editor.select(); break;
      case "F2": editor.setSelectionRange(editor.value.length, editor.value.length); break;
      case "Delete":
      case "Backspace":
        if (editor.readOnly) { say(blocked(active, col)); break; }
        // The whole value selected (as on arrival): clear the cell and save at once.
        if (editor.selectionStart === 0 && editor.selectionEnd === editor.value.length) {
          editor.value = "";
          commit();
          break;
        }
        return;
      default:
        if (editor.readOnly && key.length === 1) say(blocked(active, col));
        return;
    }
    event.preventDefault();
  });

  editor.addEventListener("input", function () {
    // A five-point cell holds one digit: the last one typed wins.
    if (cols[pos.c].kind === "mark" && scale === "five" && editor.value.length > 1) {
      editor.value = editor.value.slice(-1);
    }
  });

  editor.addEventListener("blur", function () { if (!moving) commit(); });
  editor.addEventListener("focus", function () { editor.select(); });

  table.tBodies[0].addEventListener("click", function (event) {
    var td = event.target.closest && event.target.closest("td");
    if (!td || td === active || !td.parentNode.dataset.student) return;
    var r = rows.indexOf(td.parentNode);
    var c = td.cellIndex - 1;
    if (r >= 0 && c >= 0 && c < cols.length) activate(r, c);
  });

  if (historyButton) historyButton.addEventListener("click", showHistory);

  // «+» in a lesson's heading: pick that lesson in the add-assignment form below.
  var addForm = document.getElementById("add-assignment");
  table.tHead.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-add-lesson]");
    if (!button || !addForm) return;
    addForm.elements.lesson.value = button.dataset.addLesson;
    addForm.scrollIntoView({ block: "center" });
    addForm.elements.work_type.focus();
  });
  if (addForm) {
    var weightInput = addForm.elements.weight;
    var showWeight = function () {
      var option = addForm.elements.work_type.selectedOptions[0];
      weightInput.placeholder = option ? option.dataset.weight : "";
    };
    addForm.elements.work_type.addEventListener("change", showWeight);
    showWeight();
  }

  activate(0, 0, false);
  updateStatus();
})();

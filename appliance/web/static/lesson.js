// ЭЖ-box, the lesson page: every field saves itself through htmx (hx-post on change).
// This script shows what only the browser knows — typed but not sent, on its way, no
// network — retries a field the network lost, moves down a column with Enter, and keeps
// unsent text in localStorage so that nothing typed silently disappears.
(function () {
  "use strict";
  var form = document.getElementById("lesson-form");
  if (!form) return;
  var key = "ezh:" + form.dataset.user + ":" + form.dataset.lesson + ":";
  var STATES = ["saved", "unsaved", "saving", "offline", "error"];
  var retryDelay = 2000;
  var retryTimer = null;

  function wrapperOf(el) {
    return el && el.closest ? el.closest("[data-field]") : null;
  }
  function inputOf(wrapper) {
    return wrapper.querySelector("input[hx-post], textarea[hx-post]");
  }
  function fields() {
    return Array.prototype.slice.call(form.querySelectorAll("input[hx-post], textarea[hx-post]"));
  }
  function setState(wrapper, state, text) {
    STATES.forEach(function (s) { wrapper.classList.remove(s); });
    wrapper.classList.add(state);
    var label = wrapper.querySelector(".field-state");
    if (label && text !== undefined) label.textContent = text;
  }
  function keep(input) {
    try { localStorage.setItem(key + input.id, input.value); } catch (e) { /* private mode */ }
  }
  function forget(input) {
    try { localStorage.removeItem(key + input.id); } catch (e) { /* private mode */ }
  }
  function kept(input) {
    try { return localStorage.getItem(key + input.id); } catch (e) { return null; }
  }

  function retrySoon() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      form.querySelectorAll("[data-field].offline").forEach(function (wrapper) {
        var input = inputOf(wrapper);
        if (input) htmx.trigger(input, "change");
      });
      retryDelay = Math.min(retryDelay * 2, 30000);
    }, retryDelay);
  }

  // Typed: unsaved until the server answers with the field saved.
  form.addEventListener("input", function (event) {
    var wrapper = wrapperOf(event.target);
    if (!wrapper || !event.target.matches("[hx-post]")) return;
    setState(wrapper, "unsaved", "не сохранено");
    keep(event.target);
  });

  // Enter: on to the same column of the next student (leaving the field saves it).
  form.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.ctrlKey || event.altKey) return;
    if (el.tagName !== "INPUT" || !el.matches("[hx-post]")) return;
    event.preventDefault();
    var all = fields();
    var rest = all.slice(all.indexOf(el) + 1);
    var next = rest.filter(function (f) { return !el.dataset.col || f.dataset.col === el.dataset.col; })[0];
    if (next) {
      next.focus();
      next.select();
    } else if (wrapperOf(el).classList.contains("unsaved")) {
      htmx.trigger(el, "change");
    }
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var wrapper = wrapperOf(event.detail.elt);
    if (!wrapper || !form.contains(wrapper)) return;
    var input = inputOf(wrapper);
    wrapper.dataset.sent = input ? input.value : "";
    setState(wrapper, "saving", "сохраняю…");
  });

  var focusedField = null;  // the field that had the focus when its answer came
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var wrapper = event.detail.target;
    if (!wrapper || !wrapper.matches || !wrapper.matches("[data-field]")) return;
    focusedField = wrapper.contains(document.activeElement) ? wrapper.id : null;
    var input = inputOf(wrapper);
    // Typed again while the request was on its way: keep the newer text; it goes next.
    if (input && input.value !== wrapper.dataset.sent) {
      event.detail.shouldSwap = false;
      setState(wrapper, "unsaved", "не сохранено");
    }
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var wrapper = event.target;
    if (!wrapper.matches || !wrapper.matches("[data-field]")) return;
    var input = inputOf(wrapper);
    if (!input) return;
    // The focused control left with the old field («Взять из КТП»): stay in the field.
    if (focusedField === wrapper.id && (!document.activeElement || document.activeElement === document.body)) {
      input.focus();
    }
    if (wrapper.classList.contains("saved")) {
      forget(input);
      retryDelay = 2000;
      var label = wrapper.querySelector(".field-state");
      if (label && !label.textContent) label.textContent = "сохранено";
    } else {
      keep(input);
    }
  });

  function offline(event) {
    var wrapper = wrapperOf(event.detail.elt);
    if (!wrapper || !form.contains(wrapper)) return;
    setState(wrapper, "offline", "нет связи — сохраню, когда появится");
    retrySoon();
  }
  document.body.addEventListener("htmx:sendError", offline);
  document.body.addEventListener("htmx:timeout", offline);
  document.body.addEventListener("htmx:responseError", function (event) {
    var wrapper = wrapperOf(event.detail.elt);
    if (!wrapper || !form.contains(wrapper)) return;
    var status = event.detail.xhr.status;
    if (status === 0 || status >= 500) {
      offline(event);
    } else if (event.detail.target !== wrapper) {
      // Refused outside the field (expired page, no rights): the message is at the top.
      setState(wrapper, "error", "не сохранено");
    }
  });
  window.addEventListener("online", function () {
    retryDelay = 500;
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    retrySoon();
  });

  // Other forms of the page wait for fields on their way, then go.
  document.addEventListener("submit", function (event) {
    var other = event.target;
    if (!other.matches("[data-after-fields]") || other.dataset.waited) return;
    if (!form.querySelector("[data-field].saving")) return;
    event.preventDefault();
    var submitter = event.submitter;
    var waited = 0;
    (function wait() {
      waited += 100;
      if (form.querySelector("[data-field].saving") && waited < 10000) {
        setTimeout(wait, 100);
      } else {
        other.dataset.waited = "1";
        other.requestSubmit(submitter);
      }
    })();
  });
  var submitting = false;
  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (event) {
    if (submitting) return;
    if (form.querySelector("[data-field].unsaved, [data-field].saving, [data-field].offline, [data-field].error")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // What was typed here and never stored (closed tab, lost network) comes back and is sent.
  document.addEventListener("DOMContentLoaded", function () {
    fields().forEach(function (input) {
      var text = kept(input);
      var wrapper = wrapperOf(input);
      if (text === null) return;
      if (text === input.value && wrapper.classList.contains("saved")) {
        forget(input);
        return;
      }
      if (text === input.value) return;
      input.value = text;
      setState(wrapper, "offline", "не было сохранено — отправляю снова");
      retryDelay = 300;
      retrySoon();
    });
  });
})();

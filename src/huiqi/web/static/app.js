/* 惠企 — small progressive enhancements. Every page works without this file.
 * 1. Industry search box (ARIA 1.2 combobox) over GET /api/v1/industries.
 * 2. The calculator re-runs in place: the form (or a missing-fact prompt) is posted as
 *    usual and the new page's <main> replaces the old one, keeping the reader's place.
 * 3. Print button; all <details> are opened for printing.
 */
(function () {
  "use strict";

  var pickerCount = 0;

  function industryPicker(input) {
    if (input.dataset.ready) return;
    input.dataset.ready = "1";
    var n = ++pickerCount;
    var list = document.createElement("ul");
    list.id = "industry-options-" + n;
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "行业候选");
    list.hidden = true;
    input.parentNode.appendChild(list);
    var live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("role", "status");
    input.parentNode.appendChild(live);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    var items = [];
    var active = -1;
    var timer = null;
    var asked = "";

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function highlight(i) {
      var options = list.querySelectorAll("[role=option]");
      options.forEach(function (o) { o.setAttribute("aria-selected", "false"); });
      active = i;
      if (i >= 0 && options[i]) {
        options[i].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function choose(i) {
      var it = items[i];
      if (!it) return;
      input.value = it.code + " " + it.name;
      close();
      live.textContent = "已选择 " + it.code + " " + it.name;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function render(found) {
      items = found;
      list.innerHTML = "";
      found.forEach(function (it, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var code = document.createElement("span");
        code.className = "code";
        code.textContent = it.code;
        li.appendChild(code);
        li.appendChild(document.createTextNode(it.name));
        var path = document.createElement("small");
        path.textContent = it.level_name + (it.path.length > 1 ? " · " + it.path.slice(0, -1).join(" › ") : "");
        li.appendChild(path);
        if (it.why) {
          var why = document.createElement("small");
          why.className = "why";
          why.textContent = it.why;
          li.appendChild(why);
        }
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      var open = found.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
      active = -1;
      live.textContent = open ? "找到 " + found.length + " 个行业，用上下方向键选择，回车确认" : "没有找到这个行业";
    }
    function lookup() {
      var q = input.value.trim();
      if (/^[A-Ta-t]\d{0,4}\s/.test(q)) q = q.split(/\s+/)[0];
      if (!q) { close(); return; }
      if (q === asked && items.length) { render(items); return; }
      asked = q;
      fetch("/api/v1/industries?limit=15&q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { industries: [] }; })
        .then(function (data) { if (asked === q) render(data.industries || []); })
        .catch(function () { close(); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookup, 120);
    });
    input.addEventListener("keydown", function (e) {
      var open = !list.hidden;
      if (e.key === "ArrowDown") {
        e.preventDefault();
        if (!open) { lookup(); return; }
        highlight(Math.min(active + 1, items.length - 1));
      } else if (e.key === "ArrowUp") {
        if (open) { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
      } else if (e.key === "Enter") {
        if (open && active >= 0) { e.preventDefault(); choose(active); }
        else if (open) { close(); }
      } else if (e.key === "Escape") {
        if (open) { e.preventDefault(); close(); }
      } else if (e.key === "Tab") {
        if (open && active >= 0) choose(active); else close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  /* --- the calculator re-runs in place --------------------------------------------- */
  var VERDICT = { "v-eligible": "可享受", "v-undetermined": "仍需补充信息", "v-ineligible": "不符合" };

  function copyInto(mainForm, ask) {
    // Copy the prompt's answers into the main form, so that both say the same.
    ask.querySelectorAll("input:not([type=hidden]), select").forEach(function (el) {
      if (el.type === "checkbox") {
        var box = mainForm.querySelector('input[type=checkbox][name="' + el.name + '"][value="' + el.value + '"]');
        if (box) box.checked = el.checked;
      } else {
        var target = mainForm.elements.namedItem(el.name);
        if (target && "value" in target) target.value = el.value;
      }
    });
  }

  function rerun(form, policyId, trigger) {
    var main = document.getElementById("main");
    var status = document.getElementById("rerun-status");
    var button = (trigger || form).querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.textContent = "正在计算…"; }
    fetch("/", { method: "POST", body: new URLSearchParams(new FormData(form)), headers: { Accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (!fresh) throw new Error("no main");
        main.innerHTML = fresh.innerHTML;
        document.title = doc.title;
        init(main);
        status = document.getElementById("rerun-status");
        var errors = document.getElementById("error-summary");
        var target = errors;
        var said = "已重新计算。";
        if (!target && policyId) {
          target = document.getElementById("p-" + policyId);
          if (target) {
            var cls = ["v-eligible", "v-undetermined", "v-ineligible"].filter(function (c) { return target.classList.contains(c); })[0];
            said = "已重新计算：这项政策现在" + (cls === "v-undetermined" ? "" : "为") + (VERDICT[cls] || "") + "。";
            target.classList.add("flash");
          }
        }
        if (!target) target = document.getElementById("results-title");
        if (status) status.textContent = errors ? "有需要修改的地方，请看上方提示。" : said;
        if (target) {
          target.focus({ preventScroll: true });
          target.scrollIntoView({ block: "start" });
        }
      })
      .catch(function () { form.submit(); });
  }

  function init(root) {
    root.querySelectorAll("input[data-industry-picker]").forEach(industryPicker);
    var mainForm = document.getElementById("profile-form");
    if (mainForm && !mainForm.dataset.ready) {
      mainForm.dataset.ready = "1";
      mainForm.addEventListener("submit", function (e) { e.preventDefault(); rerun(mainForm, null); });
    }
    root.querySelectorAll("form[data-rerun]").forEach(function (ask) {
      ask.addEventListener("submit", function (e) {
        e.preventDefault();
        if (mainForm) copyInto(mainForm, ask);
        rerun(mainForm || ask, ask.getAttribute("data-rerun"), ask);
      });
    });
    root.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    var summary = document.getElementById("error-summary");
    if (summary && root === document) summary.focus();
  }

  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) {
      if (!d.open) { d.dataset.closed = "1"; d.open = true; }
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-closed]").forEach(function (d) { d.open = false; delete d.dataset.closed; });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(document); });
  else init(document);
})();

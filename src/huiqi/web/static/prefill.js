// The calculator fills itself from the departments (GET /api/v1/enterprises/{uscc}/profile) when an
// enterprise has entered its token on /enterprise/data. Each prefilled field says where it came from;
// a fact the enterprise changes is marked 企业更正 — used for this calculation, never written back.
(function () {
  "use strict";
  const KEY = "huiqi-enterprise";

  function chip(container, text, cls) {
    let el = container.querySelector(".provenance");
    if (!el) { el = document.createElement("span"); el.className = "provenance"; container.appendChild(el); }
    el.textContent = text;
    el.className = "provenance" + (cls ? " " + cls : "");
    return el;
  }

  async function fill(panel, who) {
    const status = panel.querySelector(".prefill-status");
    status.textContent = "正在从部门取数…";
    const r = await fetch("/api/v1/enterprises/" + encodeURIComponent(who.uscc) + "/profile?purpose=" +
      encodeURIComponent("政策匹配"), { headers: { Authorization: "Bearer " + who.token } });
    const p = await r.json().catch(() => ({}));
    if (!r.ok) { status.textContent = "无法预填：" + (p.detail || p.title || r.status); return; }
    const form = document.getElementById("profile-form");
    let filled = 0;
    for (const [name, value] of Object.entries(p.form || {})) {
      const input = form.querySelector('[name="' + name + '"]');
      if (!input) continue;
      input.value = value;
      filled += 1;
      const v = p.provenance[name];
      const box = input.closest(".field") || input.parentElement;
      const origin = "来自" + v.source + (v.as_of ? "（" + v.as_of + "）" : "") +
        (v.consent_ref ? "，经企业同意 " + v.consent_ref : (v.legal_basis ? "，依据" + v.legal_basis : ""));
      chip(box, origin);
      box.dataset.prefilled = value;
      input.addEventListener("input", () => {
        const changed = input.value !== box.dataset.prefilled;
        chip(box, changed ? "企业更正（只用于本次计算，不改动" + v.source + "的登记）" : origin, changed ? "corrected" : "");
      });
    }
    status.textContent = "已从部门数据预填 " + filled + " 项。";
    const list = panel.querySelector(".prefill-notes");
    list.textContent = "";
    for (const u of p.unavailable || []) {
      const li = document.createElement("li"); li.className = "unavailable";
      li.textContent = u.message + "：相关事项请自行填写"; list.appendChild(li);
    }
    for (const v of p.verified || []) {
      const li = document.createElement("li");
      li.textContent = v.source + "核验（未提供数值）：" + v.label + " —— " + ({ met: "满足", unmet: "不满足", unknown: "无法判断" }[v.outcome]);
      list.appendChild(li);
    }
    if (!p.consent) {
      const li = document.createElement("li");
      li.innerHTML = "";
      li.append("税务、社保数据须经贵企业同意后才能预填：");
      const a = document.createElement("a"); a.href = "/enterprise/data"; a.textContent = "去授权"; li.appendChild(a);
      list.appendChild(li);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const panel = document.getElementById("prefill-panel");
    const form = document.getElementById("profile-form");
    if (!panel || !form) return;
    const css = document.createElement("link");
    css.rel = "stylesheet"; css.href = "/static/sharing.css";
    document.head.appendChild(css);
    let who = null;
    try { who = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { who = null; }
    panel.hidden = false;
    panel.textContent = "";
    const p = document.createElement("p");
    const status = document.createElement("span"); status.className = "prefill-status";
    const notes = document.createElement("ul"); notes.className = "prefill-notes";
    if (who) {
      const b = document.createElement("button");
      b.type = "button"; b.id = "prefill-button"; b.className = "secondary";
      b.textContent = "用部门数据预填（" + who.uscc + "）";
      b.addEventListener("click", () => fill(panel, who));
      p.append(b, " ", status);
    } else {
      const a = document.createElement("a"); a.href = "/enterprise/data"; a.textContent = "企业登录";
      p.append("企业可", a, "后用市场监管、税务、人社的登记数据预填本表，每项注明来源。");
    }
    panel.append(p, notes);
  });
})();

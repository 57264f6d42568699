// 企业数据空间 (/enterprise/data): consents, the prefilled profile with its sources, 数据使用记录.
// The enterprise token stays in this tab (sessionStorage) and goes only in the Authorization header.
(function () {
  "use strict";
  const KEY = "huiqi-enterprise";
  const $ = (id) => document.getElementById(id);
  const TAX = ["taxpayer_type", "credit_rating", "monthly_sales", "revenue", "taxable_income", "rd_expense", "total_assets"];
  let who = null;

  function creds() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers["Authorization"] = "Bearer " + who.token;
    if (opts.body && typeof opts.body !== "string") {
      opts.body = JSON.stringify(opts.body);
      opts.headers["Content-Type"] = "application/json";
    }
    const r = await fetch("/api/v1/enterprises/" + encodeURIComponent(who.uscc) + path, opts);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error(data.detail || data.title || ("HTTP " + r.status));
      err.status = r.status;
      throw err;
    }
    return data;
  }
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function badge(td, text, cls) {
    td.textContent = "";
    const s = document.createElement("span");
    s.className = "badge " + cls;
    s.textContent = text;
    td.appendChild(s);
  }
  function scopeText(scope) {
    return Object.entries(scope).map(([svc, s]) =>
      svc + "：" + ((s.read || []).length ? "读取 " + s.read.join("、") : "") +
      ((s.ask || []).length ? " 只核验 " + s.ask.join("、") : "")).join("；");
  }

  async function loadConsents() {
    const rows = await api("/consents");
    const body = $("consent-rows");
    body.textContent = "";
    if (!rows.length) { const tr = document.createElement("tr"); cell(tr, "尚无同意记录").colSpan = 7; body.appendChild(tr); }
    for (const c of rows) {
      const tr = document.createElement("tr");
      tr.dataset.ref = c.ref;
      cell(tr, c.ref); cell(tr, c.consumer); cell(tr, c.purpose_label); cell(tr, c.scope_text || scopeText(c.scope));
      badge(cell(tr, ""), c.state_label, c.state);
      cell(tr, c.expires_at ? c.expires_at.slice(0, 10) : "");
      const act = cell(tr, "");
      const actions = c.state === "granted" ? [["withdraw", "撤回同意"]] :
        c.state === "requested" ? [["approve", "同意"], ["refuse", "拒绝"]] : [];
      for (const [a, label] of actions) {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = label; b.dataset.action = a;
        b.addEventListener("click", async () => { await api("/consents/" + c.ref + "/" + a, { method: "POST" }); await loadAll(); });
        act.appendChild(b);
      }
      body.appendChild(tr);
    }
  }

  async function grant(scope) {
    const c = await api("/consents", { method: "POST", body: { purpose: "policy_match", scope } });
    await api("/consents/" + c.ref + "/approve", { method: "POST" });
    await loadAll();
  }

  async function loadProfile() {
    const p = await api("/profile?purpose=" + encodeURIComponent("政策匹配"));
    const body = $("profile-rows");
    body.textContent = "";
    const names = Object.keys(p.provenance);
    if (!names.length) { const tr = document.createElement("tr"); cell(tr, "暂无").colSpan = 5; body.appendChild(tr); }
    for (const name of names) {
      const v = p.provenance[name];
      const tr = document.createElement("tr");
      tr.dataset.field = name;
      cell(tr, (p.labels && p.labels[name]) || name);
      cell(tr, (p.display && p.display[name]) || v.value); cell(tr, v.source); cell(tr, v.as_of || "");
      cell(tr, v.consent_ref ? "企业同意 " + v.consent_ref : (v.legal_basis || ""));
      body.appendChild(tr);
    }
    const un = $("unavailable");
    un.textContent = "";
    for (const u of p.unavailable) { const li = document.createElement("li"); li.textContent = u.message + "：相关事项请在计算器中自行填写"; un.appendChild(li); }
    const ver = $("verified");
    ver.textContent = "";
    for (const v of p.verified) {
      const li = document.createElement("li");
      li.textContent = v.source + "核验：" + v.label + " —— " + ({ met: "满足", unmet: "不满足", unknown: "无法判断" }[v.outcome]) + "（未提供数值）";
      ver.appendChild(li);
    }
    if (!p.verified.length) { const li = document.createElement("li"); li.textContent = "无"; ver.appendChild(li); }
  }

  async function loadUsage() {
    const u = await api("/data-usage");
    const body = $("usage-rows");
    body.textContent = "";
    if (!u.records.length) { const tr = document.createElement("tr"); cell(tr, "暂无").colSpan = 9; body.appendChild(tr); }
    for (const r of u.records) {
      const tr = document.createElement("tr");
      cell(tr, r.time.slice(0, 19).replace("T", " ")); cell(tr, r.provider_name); cell(tr, r.consumer);
      cell(tr, r.official); cell(tr, r.purpose_label); cell(tr, (r.field_labels || r.fields || []).join("、"));
      badge(cell(tr, ""), { allow: "已提供", partial: "部分提供", deny: "已拒绝" }[r.decision] || r.decision, r.decision);
      cell(tr, r.consent_ref ? "同意 " + r.consent_ref : (r.legal_basis || ""));
      cell(tr, "#" + r.log.index);
      body.appendChild(tr);
    }
    const un = $("usage-unavailable");
    un.textContent = "";
    for (const d of u.unavailable) { const li = document.createElement("li"); li.textContent = d.message; un.appendChild(li); }
  }

  async function loadAll() {
    $("who").textContent = who.uscc;
    await loadConsents();
    await loadProfile();
    await loadUsage();  // after the prefill: its own reads are in the record too
  }

  async function enter() {
    $("login").hidden = true;
    $("space").hidden = false;
    try { await loadAll(); } catch (e) {
      if (e.status === 401 || e.status === 403) {
        sessionStorage.removeItem(KEY);
        $("space").hidden = true; $("login").hidden = false;
        $("login-error").hidden = false; $("login-error").textContent = "令牌无效或不属于该企业：" + e.message;
      } else { throw e; }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      who = { uscc: $("uscc").value.trim().toUpperCase(), token: $("token").value.trim() };
      sessionStorage.setItem(KEY, JSON.stringify(who));
      enter();
    });
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
    $("grant-read").addEventListener("click", () => grant({ "tax.taxpayer": { read: TAX }, "hrss.insurance": { read: ["employees"] } }));
    $("grant-ask").addEventListener("click", () => grant({ "tax.taxpayer": { ask: TAX }, "hrss.insurance": { ask: ["employees"] } }));
    who = creds();
    if (who) enter();
  });
})();

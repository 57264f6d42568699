/* The policy editor's live check: lint, tests and a preview while the officer types. */
(function () {
  const form = document.getElementById('editor');
  if (!form) return;
  const text = document.getElementById('text'), filename = document.getElementById('filename');
  const status = document.getElementById('status');
  let timer = null, seq = 0;
  function item(list, value) { const li = document.createElement('li'); li.textContent = value; list.appendChild(li); }
  async function lint() {
    const mine = ++seq;
    status.textContent = '检查中…';
    let data;
    try {
      const r = await fetch('/admin/api/lint', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': form.dataset.csrf},
        body: JSON.stringify({text: text.value, filename: filename.value || null, document_id: form.dataset.document || null}),
      });
      if (!r.ok) { status.textContent = '检查失败（HTTP ' + r.status + '）'; return; }
      data = await r.json();
    } catch (e) { status.textContent = '无法连接服务器'; return; }
    if (mine !== seq) return;
    const errors = document.getElementById('errors'), warnings = document.getElementById('warnings');
    errors.replaceChildren(); warnings.replaceChildren();
    data.errors.forEach(e => item(errors, e));
    data.cases_failed.forEach(c => item(errors, '测试失败：' + c));
    if (data.id_changed) item(errors, '政策 id 与正在编辑的文档不同');
    data.warnings.forEach(w => item(warnings, w));
    document.getElementById('cases').textContent = '测试用例：通过 ' + data.cases_passed + '，失败 ' + data.cases_failed.length;
    status.textContent = data.ok ? '✓ 可以提交' : '✗ 有问题，不能提交';
    const body = document.querySelector('#preview tbody');
    body.replaceChildren();
    data.preview.forEach(p => {
      const tr = document.createElement('tr');
      [p.enterprise, p.verdict_zh, p.amount || '', p.reasons.join('；')].forEach(v => {
        const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  text.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(lint, 400); });
  if (text.value) lint();
})();

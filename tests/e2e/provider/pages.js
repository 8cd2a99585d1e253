// The stand-in's HTML pages. They keep Dex's form field names and element ids (`login`,
// `password`, `submit-login`, `approval=approve`) so anything that drives Dex's pages drives these.
const escapeMap = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => escapeMap[c]);

function layout(title, body) {
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:26em;margin:3em auto}input{display:block;width:100%;margin:.3em 0 1em;padding:.4em}
.error{color:#b00}.note{color:#666;font-size:.85em}</style></head>
<body>
${body}
<p class="note">dex-auth end-to-end stand-in for Dex (npm oidc-provider)</p>
</body>
</html>`;
}

export function loginPage({ action, error, login = '' }) {
  return layout('dex', `<h2 class="theme-heading">Log in to Your Account</h2>
<form method="post" action="${esc(action)}">
  <label for="login">Email Address</label>
  <input type="text" id="login" name="login" value="${esc(login)}" autofocus required>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" required>
  ${error ? `<div id="login-error" class="error">${esc(error)}</div>` : ''}
  <button type="submit" id="submit-login">Login</button>
</form>`);
}

export function approvalPage({ action, clientName, scopes }) {
  return layout('dex', `<h2 class="theme-heading">Grant Access</h2>
<p><strong>${esc(clientName)}</strong> would like to:</p>
<ul>${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<form method="post" action="${esc(action)}">
  <button type="submit" name="approval" value="approve" id="approve">Grant Access</button>
  <button type="submit" name="approval" value="rejected" id="reject">Cancel</button>
</form>`);
}

export function errorPage({ title, message }) {
  return layout('dex', `<h2 class="theme-heading">${esc(title)}</h2><p>${esc(message)}</p>`);
}

// `form` is oidc-provider's own confirmation form (hidden fields, id op.deviceConfirmForm).
export function confirmDevicePage({ form, clientName, userCode }) {
  return layout('dex', `<h2 class="theme-heading">Confirm Device</h2>
<p><strong>${esc(clientName)}</strong> asks to sign in with the code <code>${esc(userCode)}</code>.</p>
${form}
<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`);
}

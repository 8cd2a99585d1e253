#!/usr/bin/env node
// The Dex stand-in of the end-to-end tests: a certified OpenID Provider (npm oidc-provider)
// configured from the Dex config the charm rendered, serving Dex's routes under the issuer path.
//
//   node provider.js --config /path/dex-config.yaml --port 5556 [--host 127.0.0.1]
//                    [--issuer URL] [--keys-file keys.json] [--telemetry-port 5558]
//
// Like Dex: every URL it advertises is built from the issuer (whatever Host a request carries),
// every authorization request shows the login form (Dex keeps no login session), ID tokens are
// RS256 with a kid. Where Dex's rules differ from oidc-provider's (redirect URIs, the device
// flow's callback, the password grant), dex_rules.js applies Dex's, read from Dex's source.
import http from 'node:http';
import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import Provider, { errors, interactionPolicy } from 'oidc-provider';
import { DexConfigError, loadDexConfig } from './dex_config.js';
import {
  DEVICE_CALLBACK_URI, UNREGISTERED_REDIRECT_URI, passwordGrantRefusal, validateRedirectURI,
} from './dex_rules.js';
import { approvalPage, confirmDevicePage, errorPage, loginPage } from './pages.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_FORM_BYTES = 64 * 1024;

function log(msg, fields = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

function shout(title, lines) {
  if (!lines.length) return;
  const bar = '!'.repeat(78);
  process.stderr.write(`${bar}\n!!! ${title}\n${lines.map((l) => `!!!  - ${l}`).join('\n')}\n${bar}\n`);
}

function parseCli() {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      issuer: { type: 'string' },
      'keys-file': { type: 'string' },
      'telemetry-port': { type: 'string' },
    },
  });
  if (!values.config || !values.port) {
    process.stderr.write('usage: provider.js --config DEX_CONFIG.yaml --port PORT [--host H] [--issuer URL] [--keys-file F] [--telemetry-port P]\n');
    process.exit(2);
  }
  return values;
}

function signingKey(keysFile) {
  if (keysFile && existsSync(keysFile)) return JSON.parse(readFileSync(keysFile, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  if (keysFile) writeFileSync(keysFile, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

function clientMetadata(client, dex) {
  const grants = ['authorization_code', 'refresh_token', DEVICE_GRANT, 'password']
    .filter((g) => dex.grantTypes.includes(g))
    .filter((g) => g !== 'password' || dex.passwordConnector);
  // oidc-provider takes absolute URIs only; Dex's own matching (dex_rules.js) runs before it.
  let redirectUris = client.redirectURIs.filter((uri) => URL.canParse(uri));
  if (!redirectUris.length && client.public) redirectUris = ['http://127.0.0.1/callback'];
  const canCode = redirectUris.length > 0 && grants.includes('authorization_code');
  return {
    client_id: client.id,
    client_name: client.name,
    ...(client.public ? { token_endpoint_auth_method: 'none', application_type: 'native' }
      : { client_secret: client.secret, token_endpoint_auth_method: 'client_secret_basic' }),
    redirect_uris: redirectUris,
    grant_types: canCode ? grants : grants.filter((g) => g !== 'authorization_code'),
    response_types: canCode ? ['code'] : [],
  };
}

function accountFor(user) {
  return {
    accountId: user.sub,
    async claims() {
      return {
        sub: user.sub,
        email: user.email,
        email_verified: user.emailVerified,
        name: user.name,
        preferred_username: user.preferredUsername,
        groups: user.groups,
      };
    },
  };
}

// Dex keeps a login attempt in its URL (`?req=`), not in cookies, so a browser that blocks
// cookies can still log in at Dex. oidc-provider keys the attempt on two signed cookies; when
// they are missing, derive them from the uid in the URL (the only thing Dex would have used).
function cookieSigner(key) {
  return (data) => createHmac('sha1', key).update(data).digest('base64url');
}

function addDexStyleAttemptCookie(req, path, prefix, sign) {
  const match = /^\/(interaction|auth|device)\/([A-Za-z0-9_-]+)$/.exec(path.slice(prefix.length));
  if (!match) return;
  const name = match[1] === 'interaction' ? '_interaction' : '_interaction_resume';
  const cookie = req.headers.cookie ?? '';
  if (cookie.split(';').some((c) => c.trim().startsWith(`${name}=`))) return;
  const pair = `${name}=${match[2]}`;
  req.headers.cookie = [cookie, pair, `${name}.sig=${sign(pair)}`].filter(Boolean).join('; ');
}

function buildProvider(dex, issuer, prefix, jwk, cookieKey) {
  const usersBySub = new Map(dex.users.map((u) => [u.sub, u]));
  const policy = interactionPolicy.base();
  policy.get('login').checks.push(new interactionPolicy.Check(
    'dex_no_login_session',
    'Dex keeps no login session: every authorization request logs in',
    'login_required',
    (ctx) => (ctx.oidc.result?.login ? interactionPolicy.Check.NO_NEED_TO_PROMPT
      : interactionPolicy.Check.REQUEST_PROMPT),
  ));
  const t = dex.ttl;
  const provider = new Provider(issuer, {
    clients: dex.clients.map((c) => clientMetadata(c, dex)),
    findAccount: async (ctx, sub) => {
      const user = usersBySub.get(sub);
      return user ? accountFor(user) : undefined;
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => false },
    jwks: { keys: [jwk] },
    // Dex sets no cookies for the rest of the site: keep the stand-in's own under the issuer path.
    cookies: { keys: [cookieKey], long: { httpOnly: true, sameSite: 'lax', path: prefix || '/' } },
    interactions: {
      url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}`,
      policy,
    },
    routes: {
      authorization: '/auth',
      token: '/token',
      jwks: '/keys',
      userinfo: '/userinfo',
      device_authorization: '/device/code',
      code_verification: '/device',
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: dex.grantTypes.includes(DEVICE_GRANT),
        // Dex continues a device login with an authorization request for redirect_uri
        // /device/callback (dex_rules.js), so a client that did not register it fails here.
        userCodeConfirmSource: async (ctx, form, client, deviceInfo, userCode) => {
          const registered = dex.clients.find((c) => c.id === client.clientId);
          if (registered && !validateRedirectURI(registered, DEVICE_CALLBACK_URI)) {
            log('unregistered redirect_uri', { redirect_uri: DEVICE_CALLBACK_URI, client_id: client.clientId });
            ctx.status = 400;
            ctx.type = 'html';
            ctx.body = errorPage({ title: 'Bad Request', message: UNREGISTERED_REDIRECT_URI });
            return;
          }
          ctx.type = 'html';
          ctx.body = confirmDevicePage({ form, clientName: client.clientName ?? client.clientId, userCode });
        },
      },
      revocation: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: true },
    },
    clientBasedCORS: (ctx, origin) => dex.allowedOrigins.includes('*') || dex.allowedOrigins.includes(origin),
    issueRefreshToken: async (ctx, client, source) => client.grantTypeAllowed('refresh_token')
      && source.scopes.has('offline_access'),
    rotateRefreshToken: dex.rotateRefreshTokens,
    ttl: {
      AccessToken: t.idTokens,
      IdToken: t.idTokens,
      AuthorizationCode: 30 * 60,
      DeviceCode: t.deviceRequests,
      Interaction: t.authRequests,
      Session: t.authRequests,
      RefreshToken: t.refreshTokens,
      Grant: Math.max(t.refreshTokens, t.idTokens, t.authRequests),
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({ title: out.error, message: out.error_description ?? '' });
    },
  });
  provider.proxy = true;
  // Redirect URIs are matched by Dex's rule, not oidc-provider's (which would, say, refuse
  // http://localhost for a public client that registered none, where Dex allows it).
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    const registered = dex.clients.find((c) => c.id === this.clientId);
    return registered !== undefined && validateRedirectURI(registered, value);
  };

  if (dex.passwordConnector && dex.grantTypes.includes('password')) {
    provider.registerGrantType('password', (ctx) => passwordGrant(provider, dex, ctx), ['username', 'password', 'scope']);
  }

  provider.on('server_error', (ctx, err) => log('server error', { level: 'error', error: String(err?.message ?? err) }));
  provider.on('grant.error', (ctx, err) => log('token request refused', { error: err.error, detail: err.error_detail ?? err.error_description }));
  provider.on('authorization.error', (ctx, err) => log('authorization request refused', { error: err.error, detail: err.error_detail ?? err.error_description }));
  return provider;
}

async function checkPassword(dex, login, password) {
  const user = dex.users.find((u) => u.email === String(login).toLowerCase());
  // Compare against some hash even for unknown users so timing does not reveal who exists.
  const ok = await bcrypt.compare(String(password), user?.hash ?? '$2a$10$CwTycUXWue0Thq9StjUM0uJ8DPLKXt1FYlwYpQW2G3cAwjKoh2WZu');
  return ok && user ? user : undefined;
}

async function passwordGrant(provider, dex, ctx) {
  const refusal = passwordGrantRefusal(dex);
  if (refusal) throw new errors.CustomOIDCProviderError(refusal.error, refusal.description);
  const { username, password, scope } = ctx.oidc.params;
  if (!username || !password) throw new errors.InvalidRequest('Required param: username and password.');
  const scopes = [...new Set((scope ?? '').split(' ').filter(Boolean))];
  if (!scopes.includes('openid')) throw new errors.InvalidRequest('Missing required scope(s) ["openid"].');
  const user = await checkPassword(dex, username, password);
  if (!user) {
    log('password grant: invalid credentials', { email: String(username).toLowerCase() });
    const err = new errors.CustomOIDCProviderError('access_denied', 'Invalid username or password');
    err.status = 401;
    err.statusCode = 401;
    throw err;
  }
  const { client } = ctx.oidc;
  const scopeText = scopes.join(' ');
  const grant = new provider.Grant({ accountId: user.sub, clientId: client.clientId });
  grant.addOIDCScope(scopeText);
  const grantId = await grant.save();
  const account = accountFor(user);
  ctx.oidc.entity('Account', account);
  ctx.oidc.entity('Grant', grant);

  const at = new provider.AccessToken({
    accountId: user.sub, client, grantId, gty: 'password', scope: scopeText, expiresWithSession: false,
  });
  ctx.oidc.entity('AccessToken', at);
  const accessToken = await at.save();

  let refreshToken;
  if (scopes.includes('offline_access') && client.grantTypeAllowed('refresh_token')) {
    const rt = new provider.RefreshToken({
      accountId: user.sub, client, grantId, gty: 'password', scope: scopeText, rotations: 0, expiresWithSession: false,
    });
    refreshToken = await rt.save();
  }

  const idToken = new provider.IdToken({ ...(await account.claims()), sub: user.sub }, { ctx });
  idToken.scope = scopeText;
  const idTokenValue = await idToken.issue({ use: 'idtoken' });
  log('login successful', { connector: 'local', grant: 'password', email: user.email });
  ctx.body = {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: at.expiration,
    id_token: idTokenValue,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    scope: scopeText,
  };
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new RangeError('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

async function grantEverything(provider, details) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session?.accountId ?? details.result?.login?.accountId, clientId: details.params.client_id });
  if (details.params.scope) grant.addOIDCScope(details.params.scope);
  const missingClaims = details.prompt?.details?.missingOIDCClaims;
  if (missingClaims?.length) grant.addOIDCClaims(missingClaims);
  return grant.save();
}

async function handleInteraction(provider, dex, req, res, uid) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      sendHtml(res, 400, errorPage({ title: 'Login expired', message: 'This login attempt is unknown or has expired. Go back to the application and try again.' }));
      return;
    }
    throw err;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, errorPage({ title: 'Bad request', message: 'This login page does not belong to the current login attempt.' }));
    return;
  }
  const action = req.url.split('?')[0];
  const promptName = details.prompt.name;

  if (req.method === 'GET') {
    if (promptName === 'login') {
      sendHtml(res, 200, loginPage({ action }));
    } else if (dex.skipApprovalScreen) {
      const grantId = await grantEverything(provider, details);
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } else {
      const client = await provider.Client.find(details.params.client_id);
      sendHtml(res, 200, approvalPage({ action, clientName: client?.clientName ?? details.params.client_id, scopes: (details.params.scope ?? '').split(' ') }));
    }
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { Allow: 'GET, POST' }).end();
    return;
  }
  const form = await readForm(req);
  if (promptName === 'login') {
    const login = form.get('login') ?? '';
    const user = await checkPassword(dex, login, form.get('password') ?? '');
    if (!user) {
      log('login failed', { connector: 'local', email: login.toLowerCase() });
      sendHtml(res, 200, loginPage({ action, login, error: 'Invalid Email Address and password.' }));
      return;
    }
    log('login successful', { connector: 'local', email: user.email });
    const result = { login: { accountId: user.sub, remember: false } };
    if (dex.skipApprovalScreen) {
      result.consent = { grantId: await grantEverything(provider, { ...details, result: result }) };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  if (form.get('approval') === 'approve') {
    const grantId = await grantEverything(provider, details);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  } else {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'user denied access' }, { mergeWithLastSubmission: false });
  }
}

// Dex issues refresh tokens for offline_access without prompt=consent; oidc-provider drops the
// scope unless consent is prompted, so ask for it (the approval step is skipped or shown as Dex would).
function dexOfflineAccess(url) {
  const scope = url.searchParams.get('scope') ?? '';
  if (!scope.split(' ').includes('offline_access')) return;
  const prompts = new Set((url.searchParams.get('prompt') ?? '').split(' ').filter(Boolean));
  if (prompts.has('none')) return;
  prompts.add('consent');
  url.searchParams.set('prompt', [...prompts].join(' '));
}

function main() {
  const args = parseCli();
  let dex;
  try {
    dex = loadDexConfig(args.config);
  } catch (err) {
    if (err instanceof DexConfigError) {
      process.stderr.write(`failed to initialize server: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const issuer = args.issuer ?? dex.issuer;
  const issuerUrl = new URL(issuer);
  const prefix = issuerUrl.pathname.replace(/\/$/, '');
  const forwardedProto = issuerUrl.protocol.replace(':', '');

  shout('DEX STAND-IN: these parts of the Dex config are NOT emulated', dex.notEmulated);
  if (dex.notes.length) process.stderr.write(dex.notes.map((n) => `dex stand-in note: ${n}\n`).join(''));
  if (args.issuer && args.issuer !== dex.issuer) {
    process.stderr.write(`dex stand-in note: issuer overridden: ${dex.issuer} -> ${args.issuer}\n`);
  }

  const cookieKey = randomBytes(32).toString('base64url');
  const sign = cookieSigner(cookieKey);
  const provider = buildProvider(dex, issuer, prefix, signingKey(args['keys-file']), cookieKey);
  const callback = provider.callback();

  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const path = (req.url ?? '/').split('?')[0];
    res.on('finish', () => log('request', { method: req.method, path, status: res.statusCode, ms: Date.now() - started }));
    for (const [name, value] of Object.entries(dex.responseHeaders)) res.setHeader(name, value);
    // Dex builds every URL from its issuer, whichever Host the request came with.
    req.headers.host = issuerUrl.host;
    req.headers['x-forwarded-host'] = issuerUrl.host;
    req.headers['x-forwarded-proto'] = forwardedProto;
    try {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      addDexStyleAttemptCookie(req, path, prefix, sign);
      const inner = path.slice(prefix.length) || '/';
      const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(inner);
      if (interaction) {
        await handleInteraction(provider, dex, req, res, interaction[1]);
        return;
      }
      const url = new URL(req.url, issuerUrl.origin);
      if (inner === '/auth' && req.method === 'GET') {
        const client = dex.clients.find((c) => c.id === url.searchParams.get('client_id'));
        const redirectURI = url.searchParams.get('redirect_uri') ?? '';
        if (client && !validateRedirectURI(client, redirectURI)) {
          log('unregistered redirect_uri', { redirect_uri: redirectURI, client_id: client.id });
          sendHtml(res, 400, errorPage({ title: 'Bad Request', message: UNREGISTERED_REDIRECT_URI }));
          return;
        }
        dexOfflineAccess(url);
      }
      req.originalUrl = `${url.pathname}${url.search}`;
      req.url = `${inner}${url.search}`;
      callback(req, res);
    } catch (err) {
      if (err instanceof RangeError) {
        sendHtml(res, 413, errorPage({ title: 'Request too large', message: err.message }));
        return;
      }
      log('server error', { level: 'error', error: String(err?.message ?? err) });
      if (!res.headersSent) sendHtml(res, 500, errorPage({ title: 'Internal error', message: 'see the stand-in log' }));
      else res.end();
    }
  });
  server.listen(Number(args.port), args.host, () => {
    log('listening', { address: `http://${args.host}:${args.port}`, issuer, clients: dex.clients.map((c) => c.id), users: dex.users.map((u) => u.email), passwordConnector: dex.passwordConnector ?? null });
  });

  let telemetry;
  if (args['telemetry-port']) {
    telemetry = http.createServer((req, res) => {
      if (['/healthz', '/healthz/live', '/healthz/ready'].includes(req.url)) {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('Health check passed\n');
      } else {
        res.writeHead(404).end();
      }
    }).listen(Number(args['telemetry-port']), args.host);
  }

  const stop = () => {
    server.close();
    telemetry?.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();

// Reads a rendered Dex config and turns it into what the stand-in needs, collecting every
// setting the stand-in cannot reproduce so that start-up can say so loudly instead of pretending.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export class DexConfigError extends Error {}

const KNOWN_TOP_LEVEL = new Set([
  'issuer', 'storage', 'web', 'telemetry', 'expiry', 'logger', 'oauth2', 'staticclients',
  'enablepassworddb', 'staticpasswords', 'connectors', 'frontend', 'signer', 'grpc',
]);

const UNITS = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

// Go's time.ParseDuration, in seconds (the forms Dex documents: "10m", "1h30m", "24h", "300ms").
export function parseGoDuration(text, where) {
  if (typeof text !== 'string' || !/^([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    throw new DexConfigError(`${where}: ${JSON.stringify(text)} is not a Go duration (e.g. "10m", "24h")`);
  }
  let seconds = 0;
  for (const [, num, unit] of text.matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) {
    seconds += Number(num) * UNITS[unit];
  }
  return seconds;
}

// Dex's `sub` is base64url (no padding) of the protobuf IDTokenSubject{user_id=1, conn_id=2}.
export function dexSubject(userId, connectorId) {
  const field = (tag, value) => {
    const bytes = Buffer.from(value, 'utf8');
    const len = [];
    let n = bytes.length;
    do { len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>= 7; } while (n > 0);
    return Buffer.concat([Buffer.from([tag]), Buffer.from(len), bytes]);
  };
  return Buffer.concat([field(0x0a, userId), field(0x12, connectorId)]).toString('base64url');
}

function lowerKeys(obj) {
  return Object.fromEntries(Object.entries(obj ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

function bcryptHash(entry, where) {
  let hash = entry.hash;
  if (hash === undefined && entry.hashfromenv !== undefined) {
    hash = process.env[entry.hashfromenv];
  }
  if (!hash) throw new DexConfigError(`${where}: no password hash provided`);
  if (!/^\$2[aby]\$/.test(hash)) {
    hash = Buffer.from(hash, 'base64').toString('utf8');
  }
  if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
    throw new DexConfigError(`${where}: malformed bcrypt hash`);
  }
  return hash;
}

function valueOrEnv(entry, key, envKey, where) {
  if (entry[key] !== undefined && entry[envKey] !== undefined) {
    throw new DexConfigError(`${where}: cannot use both ${key} and ${envKey}`);
  }
  if (entry[envKey] !== undefined) return process.env[entry[envKey]];
  return entry[key];
}

/**
 * Loads the Dex config at `path`. Returns { issuer, clients, users, passwordConnector, ttl, ...,
 * notEmulated: [messages], notes: [messages] }. Throws DexConfigError for what Dex itself
 * refuses at start-up.
 */
export function loadDexConfig(path) {
  let raw;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DexConfigError(`cannot read Dex config ${path}: ${err.message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DexConfigError(`Dex config ${path} is not a mapping`);
  }
  const cfg = lowerKeys(raw);
  const notEmulated = [];
  const notes = [];

  for (const key of Object.keys(raw)) {
    if (!KNOWN_TOP_LEVEL.has(key.toLowerCase())) {
      notEmulated.push(`top-level key "${key}" is unknown (real Dex ignores it silently: typo?)`);
    }
  }

  if (!cfg.issuer) throw new DexConfigError('issuer: no issuer specified in config file');
  let issuerUrl;
  try {
    issuerUrl = new URL(cfg.issuer);
  } catch {
    throw new DexConfigError(`issuer: ${JSON.stringify(cfg.issuer)} is not a URL`);
  }

  const storage = lowerKeys(cfg.storage);
  if (!storage.type) throw new DexConfigError('storage: no storage type specified');
  if (storage.type === 'kubernetes') {
    notes.push('storage kubernetes: emulated in memory; auth codes, refresh tokens and (without --keys-file) signing keys are lost when the stand-in restarts, unlike a Dex on Kubernetes');
  } else if (storage.type !== 'memory') {
    notEmulated.push(`storage type "${storage.type}": not emulated, state is kept in memory`);
  }

  const web = lowerKeys(cfg.web);
  if (!web.http && !web.https) throw new DexConfigError('web: must supply a HTTP/HTTPS address to listen on');
  if (web.https) notEmulated.push(`web.https (${web.https}): not emulated, the stand-in serves plain HTTP`);
  for (const key of ['tlscert', 'tlskey', 'tlsminversion', 'tlsmaxversion', 'clientremoteip', 'allowedheaders']) {
    if (web[key] !== undefined) notEmulated.push(`web.${key}: not emulated`);
  }
  const headers = lowerKeys(web.headers);
  const responseHeaders = {};
  const headerNames = {
    contentsecuritypolicy: 'Content-Security-Policy', xframeoptions: 'X-Frame-Options',
    xcontenttypeoptions: 'X-Content-Type-Options', xxssprotection: 'X-XSS-Protection',
    stricttransportsecurity: 'Strict-Transport-Security',
  };
  for (const [key, value] of Object.entries(headers)) {
    if (headerNames[key]) responseHeaders[headerNames[key]] = String(value);
    else notEmulated.push(`web.headers.${key}: unknown header key (real Dex ignores it)`);
  }

  const telemetry = lowerKeys(cfg.telemetry);
  for (const key of Object.keys(telemetry)) {
    if (key !== 'http') notEmulated.push(`telemetry.${key}: not emulated`);
  }

  const expiry = lowerKeys(cfg.expiry);
  const ttl = { idTokens: 24 * 3600, authRequests: 24 * 3600, deviceRequests: 300, refreshTokens: 14 * 24 * 3600 };
  if (expiry.idtokens !== undefined) ttl.idTokens = parseGoDuration(expiry.idtokens, 'expiry.idTokens');
  if (expiry.authrequests !== undefined) ttl.authRequests = parseGoDuration(expiry.authrequests, 'expiry.authRequests');
  if (expiry.devicerequests !== undefined) ttl.deviceRequests = parseGoDuration(expiry.devicerequests, 'expiry.deviceRequests');
  if (expiry.signingkeys !== undefined) notEmulated.push('expiry.signingKeys: key rotation is not emulated (one key per run)');
  const refresh = lowerKeys(expiry.refreshtokens);
  let rotateRefreshTokens = true;
  if (refresh.disablerotation !== undefined) rotateRefreshTokens = !refresh.disablerotation;
  const lifetimes = [];
  if (refresh.absolutelifetime !== undefined) lifetimes.push(parseGoDuration(refresh.absolutelifetime, 'expiry.refreshTokens.absoluteLifetime'));
  if (refresh.validifnotusedfor !== undefined) {
    lifetimes.push(parseGoDuration(refresh.validifnotusedfor, 'expiry.refreshTokens.validIfNotUsedFor'));
    notes.push('expiry.refreshTokens.validIfNotUsedFor: approximated as the lifetime of each (rotated) refresh token');
  }
  if (lifetimes.length) ttl.refreshTokens = Math.min(...lifetimes);
  if (refresh.reuseinterval !== undefined) notEmulated.push('expiry.refreshTokens.reuseInterval: not emulated, a rotated refresh token can never be reused');
  else if (rotateRefreshTokens) notes.push('refresh tokens rotate; Dex\'s default 3s reuse interval is not emulated (a rotated token is never accepted again)');
  for (const key of Object.keys(expiry)) {
    if (!['idtokens', 'authrequests', 'devicerequests', 'signingkeys', 'refreshtokens'].includes(key)) {
      notEmulated.push(`expiry.${key}: unknown (real Dex ignores it)`);
    }
  }
  if (cfg.signer !== undefined) notEmulated.push('signer: not emulated (RS256 key generated by the stand-in)');
  if (cfg.frontend !== undefined) notEmulated.push('frontend: theme/templates not emulated (the stand-in has its own plain login page)');
  if (cfg.grpc !== undefined) notEmulated.push('grpc: the gRPC API is not emulated');

  const oauth2 = lowerKeys(cfg.oauth2);
  const skipApprovalScreen = Boolean(oauth2.skipapprovalscreen);
  const responseTypes = oauth2.responsetypes ?? ['code'];
  for (const rt of responseTypes) {
    if (rt !== 'code') notEmulated.push(`oauth2.responseTypes "${rt}": only "code" is emulated`);
  }
  const dexGrants = {
    authorization_code: 'authorization_code',
    refresh_token: 'refresh_token',
    password: 'password',
    'urn:ietf:params:oauth:grant-type:device_code': 'urn:ietf:params:oauth:grant-type:device_code',
  };
  let grantTypes = Object.keys(dexGrants);
  if (oauth2.granttypes !== undefined) {
    grantTypes = [];
    for (const g of oauth2.granttypes) {
      if (dexGrants[g]) grantTypes.push(g);
      else notEmulated.push(`oauth2.grantTypes "${g}": not emulated`);
    }
  }
  for (const key of Object.keys(oauth2)) {
    if (!['skipapprovalscreen', 'responsetypes', 'granttypes', 'passwordconnector', 'alwaysshowloginscreen'].includes(key)) {
      notEmulated.push(`oauth2.${key}: unknown (real Dex ignores it)`);
    }
  }

  const enablePasswordDB = Boolean(cfg.enablepassworddb);
  const connectors = cfg.connectors ?? [];
  if (!Array.isArray(connectors)) throw new DexConfigError('connectors: must be a list');
  connectors.forEach((c, i) => {
    const conn = lowerKeys(c);
    if (!conn.id || !conn.type || !conn.name) {
      throw new DexConfigError(`connectors[${i}]: missing id, type or name`);
    }
    notEmulated.push(`connectors[${i}] type=${conn.type} id=${conn.id} name=${JSON.stringify(conn.name)}: NOT EMULATED; its users cannot log in here (only the static password DB works)`);
  });
  if (!enablePasswordDB && connectors.length === 0) {
    throw new DexConfigError('server: no connectors specified');
  }

  // The password grant follows dex_rules.js (passwordGrantRefusal): offered when a
  // passwordConnector is set; only the static password DB ("local") can check passwords here.
  const passwordConnector = oauth2.passwordconnector;
  const connectorIds = connectors.map((c) => String(lowerKeys(c).id));
  if (passwordConnector !== undefined && passwordConnector !== 'local' && connectorIds.includes(passwordConnector)) {
    notEmulated.push(`oauth2.passwordConnector "${passwordConnector}": only "local" (the static password DB) is emulated; the password grant answers invalid_request`);
  }

  const staticPasswords = cfg.staticpasswords ?? [];
  if (staticPasswords.length && !enablePasswordDB) {
    throw new DexConfigError('cannot specify static passwords without enabling password db');
  }
  const users = staticPasswords.map((p, i) => {
    const entry = lowerKeys(p);
    const where = `staticPasswords[${i}]`;
    if (!entry.email) throw new DexConfigError(`${where}: missing email`);
    const userID = entry.userid ?? '';
    const username = entry.username ?? '';
    return {
      sub: dexSubject(userID, 'local'),
      email: String(entry.email).toLowerCase(),
      hash: bcryptHash(entry, where),
      username,
      userID,
      name: entry.name ?? username,
      preferredUsername: entry.preferredusername ?? username,
      emailVerified: entry.emailverified ?? true,
      groups: entry.groups ?? [],
    };
  });

  const clients = (cfg.staticclients ?? []).map((c, i) => {
    const entry = lowerKeys(c);
    const where = `staticClients[${i}]`;
    const id = valueOrEnv(entry, 'id', 'idenv', where);
    const secret = valueOrEnv(entry, 'secret', 'secretenv', where);
    if (!id) throw new DexConfigError(`${where}: client ID must be set`);
    if (!entry.name) throw new DexConfigError(`${where}: client name must be set`);
    if (!entry.public && !secret) throw new DexConfigError(`${where}: client secret must be set`);
    if (entry.trustedpeers?.length) notEmulated.push(`${where}.trustedPeers: cross-client audiences are not emulated`);
    if (entry.logourl !== undefined) notes.push(`${where}.logoURL: ignored`);
    return {
      id: String(id),
      secret: secret === undefined ? undefined : String(secret),
      name: String(entry.name),
      public: Boolean(entry.public),
      redirectURIs: entry.redirecturis ?? [],
    };
  });

  return {
    issuer: cfg.issuer,
    issuerUrl,
    clients,
    users,
    grantTypes,
    passwordConnector,
    connectorIds,
    enablePasswordDB,
    skipApprovalScreen,
    responseHeaders,
    allowedOrigins: web.allowedorigins ?? [],
    rotateRefreshTokens,
    ttl,
    notEmulated,
    notes,
  };
}

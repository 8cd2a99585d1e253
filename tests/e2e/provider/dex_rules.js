// Rules of the real Dex (v2.45.1, the version metadata.yaml pins) that our code depends on,
// enforced by the stand-in so that a test fails where real Dex would refuse. Each rule names the
// file of dexidp/dex it was read from; oidc-provider's own rules differ on these points.
import { isIP } from 'node:net';

// server/oauth2.go (redirectURIOOB, deviceCallbackURI): the two special redirect URIs.
export const REDIRECT_URI_OOB = 'urn:ietf:wg:oauth:2.0:oob';
// server/deviceflowhandlers.go (handleDeviceCallback's redirect to /auth) sends this literal
// value as redirect_uri, not an absolute URL under the issuer.
export const DEVICE_CALLBACK_URI = '/device/callback';

function isLoopbackHost(host) {
  // server/oauth2.go (isHostLocal): "localhost" or a loopback IP, with or without a port; a
  // bracketed IPv6 host counts only with a port (Go's net.SplitHostPort needs one).
  if (host.startsWith('[') && !/\]:\d*$/.test(host)) return false;
  const bare = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

// server/oauth2.go (validateRedirectURI): an exact match with a registered URI; only a public
// client that registers none may also use the OOB URI, /device/callback or http://localhost.
export function validateRedirectURI(client, redirectURI) {
  if (client.redirectURIs.includes(redirectURI)) return true;
  if (!client.public || client.redirectURIs.length > 0) return false;
  if (redirectURI === REDIRECT_URI_OOB || redirectURI === DEVICE_CALLBACK_URI) return true;
  let url;
  try {
    url = new URL(redirectURI);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && isLoopbackHost(url.host);
}

// server/oauth2.go (parseAuthorizationRequest): the error page Dex shows for a bad redirect_uri.
export const UNREGISTERED_REDIRECT_URI = 'Unregistered redirect_uri.';

// server/server.go (NewServer: the password grant is offered only when passwordConnector is set)
// and server/handlers.go (handlePasswordGrant: that connector must exist and check passwords).
// Returns null when the grant works here, else the token error Dex answers with.
export function passwordGrantRefusal(dex) {
  if (!dex.passwordConnector || !dex.grantTypes.includes('password')) {
    return { error: 'unsupported_grant_type', description: '' };
  }
  if (dex.passwordConnector === 'local') {
    return dex.enablePasswordDB ? null
      : { error: 'invalid_request', description: 'Requested connector does not exist.' };
  }
  if (!dex.connectorIds.includes(dex.passwordConnector)) {
    return { error: 'invalid_request', description: 'Requested connector does not exist.' };
  }
  return { error: 'invalid_request', description: 'the stand-in cannot emulate this connector (only "local")' };
}

/** Operations the account test files share. */
export const ME = `{ me { id email name role isActive } }`;
export const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }`;

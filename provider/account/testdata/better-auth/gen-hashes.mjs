// Hashes a fixed set of passwords with Better Auth's own hashPassword
// (the library and version the old service used), so our verifier is
// tested against the real output, not against our reading of it.
import { hashPassword, verifyPassword } from "better-auth/crypto";
import { readFileSync } from "node:fs";

const passwords = [
  "correct horse battery staple",
  "Passw0rd!",
  // NFKC: fullwidth letters and a composed/decomposed umlaut normalise to
  // the same key, so both spellings must match the one hash.
  "Ｍａｎａ－ｐａｓｓ１",
  "Grüße aus Köln",
  "Gru\u0308ße aus Ko\u0308ln",
  "🔐 emoji & ümlaut",
];
const version = JSON.parse(readFileSync(new URL("./node_modules/better-auth/package.json", import.meta.url))).version;
const out = { generator: `better-auth@${version} hashPassword`, hashes: [] };
for (const password of passwords) {
  const hash = await hashPassword(password);
  if (!(await verifyPassword({ hash, password }))) throw new Error("library does not verify its own hash");
  out.hashes.push({ password, hash });
}
console.log(JSON.stringify(out, null, 2));

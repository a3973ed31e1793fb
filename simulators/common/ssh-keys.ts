import ssh2 from "ssh2";

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator strips leading zero bytes from the public
 * key, so about one key in 256 comes out malformed (31-byte public key) and fails to parse later:
 * generate until the pair parses.
 */
export function ed25519KeyPair(): { readonly private: string; readonly public: string } {
  for (let attempt = 0; attempt < 16; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519");
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error("could not generate a valid ed25519 key pair");
}

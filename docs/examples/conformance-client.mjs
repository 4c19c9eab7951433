// An MTProto 2.0 client in plain Node.js (20+; node:crypto, node:net and BigInt only) that
// follows the command-adapter contract of mtcrypt's conformance runner.  Run it as
//
//   python -m mtcrypt conformance \
//       --target "command:node docs/examples/conformance-client.mjs" \
//       --features full,obfuscated,header_rng,mtproxy,fake_tls,temp_keys,reconnect
//
// It reads MTCRYPT_CONFORMANCE_* variables (see mtcrypt's CommandAdapter), creates an auth
// key, and in `session` mode runs the probe script: ping 1; pings 2 and 3 together; ping 4.
// Every event is one JSON line on stdout:
//
//   {"event": "handshake", "ok": true}          {"event": "handshake", "ok": false, ...}
//   {"event": "pong", "ping_id": 1}             {"event": "timeout", "ping_id": 1}
//   {"event": "error", "error": "..."}
//
// What it does, in file order: transports (abridged, intermediate, padded intermediate,
// full; obfuscated2; MTProxy with plain, dd and ee (fake-TLS) secrets), the auth-key
// handshake with every check of core.telegram.org/mtproto/auth_key and security_guidelines,
// an optional temporary key bound with auth.bindTempAuthKey (PFS), the encrypted session
// with the receive checks in the order the spec asks for, and (with
// MTCRYPT_CONFORMANCE_RECONNECT=1) starting again after transport error -404 where the spec
// says to: a refused handshake query (a new connection, a new nonce) and a lost temporary
// key (a new one, bound before the requests in flight are sent again under it).
//
// It is an example: BigInt arithmetic is not constant-time, only Telegram's DH prime is
// accepted (pinned), there is no gzip_packed, and any other broken connection simply fails
// the requests in flight.  A packet that fails a check is dropped, with an
// "error" line saying why (one and the same text for every failure up to the padding check).

import crypto from 'node:crypto';
import net from 'node:net';

// ---- output ---------------------------------------------------------------------------

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

// ---- bytes ------------------------------------------------------------------------------

const concat = (...parts) => Buffer.concat(parts);
const random = (n) => crypto.randomBytes(n);
const hash = (algorithm, parts) => crypto.createHash(algorithm).update(concat(...parts)).digest();
const sha1 = (...parts) => hash('sha1', parts);
const sha256 = (...parts) => hash('sha256', parts);
const same = (a, b) => a.length === b.length && crypto.timingSafeEqual(a, b);

function xor(a, b) {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function u32(value) {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0);
  return out;
}

function i64(value) {
  const out = Buffer.alloc(8);
  out.writeBigInt64LE(BigInt.asIntN(64, value));
  return out;
}

const u16be = (value) => Buffer.from([value >> 8, value & 255]);

// Big-endian bytes <-> BigInt (handshake numbers are big-endian TL strings).
const toBig = (buf) => (buf.length ? BigInt('0x' + buf.toString('hex')) : 0n);

function fromBig(value, size) {
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const minimal = Buffer.from(hex, 'hex');
  return size === undefined ? minimal : concat(Buffer.alloc(size - minimal.length), minimal);
}

function modPow(base, exponent, modulus) {
  let result = 1n;
  base %= modulus;
  for (; exponent > 0n; exponent >>= 1n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
  }
  return result;
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- TL ---------------------------------------------------------------------------------

const ID = {
  reqPqMulti: 0xbe7e8ef1, resPQ: 0x05162463, vector: 0x1cb5c415,
  pqInnerDataDc: 0xa9f55f95, pqInnerDataTempDc: 0x56fddf88, reqDHParams: 0xd712e4be,
  serverDHParamsOk: 0xd0e8075c, serverDHParamsFail: 0x79cb045d, serverDHInnerData: 0xb5890dba,
  clientDHInnerData: 0x6643b654, setClientDHParams: 0xf5045f1f,
  dhGenOk: 0x3bcbf734, dhGenRetry: 0x46dc1fb9, dhGenFail: 0xa69dae02,
  ping: 0x7abe77ec, pong: 0x347773c5, rpcResult: 0xf35c6d01, rpcError: 0x2144ca19,
  msgContainer: 0x73f1f8dc, msgsAck: 0x62d6b459, newSessionCreated: 0x9ec20908,
  badServerSalt: 0xedab447b, badMsgNotification: 0xa7eff811, boolTrue: 0x997275b5,
  bindAuthKeyInner: 0x75a3f765, bindTempAuthKey: 0xcdd42a05, msgResendReq: 0x7d861a08,
};

// TL `bytes`/`string`: a 1-byte length (or 254 + 3-byte length), the data, zero padding.
function tlBytes(data) {
  const head = data.length <= 253
    ? Buffer.from([data.length])
    : concat(Buffer.from([254]), u32(data.length).subarray(0, 3));
  return concat(head, data, Buffer.alloc((4 - ((head.length + data.length) % 4)) % 4));
}

// Reads TL values; every read is bounds-checked (a short buffer throws, never reads past it).
class TLReader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }

  take(n) {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('truncated TL data');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u32() { return this.take(4).readUInt32LE(0); }
  i32() { return this.take(4).readInt32LE(0); }
  long() { return this.take(8).readBigInt64LE(0); }

  bytes() {
    let length = this.take(1)[0];
    let head = 1;
    if (length === 254) {
      length = this.take(3).readUIntLE(0, 3);
      head = 4;
    } else if (length === 255) {
      throw new Error('bad TL bytes length');
    }
    const data = this.take(length);
    this.take((4 - ((head + length) % 4)) % 4);
    return data;
  }

  expect(id, what) {
    if (this.u32() !== id) throw new Error(`expected ${what}`);
  }
}

// ---- AES-256-IGE, built from AES-256-ECB blocks ----------------------------------------
// IV = 32 bytes: iv[0:16] is the "previous ciphertext" block, iv[16:32] the "previous
// plaintext" block (OpenSSL's and tdlib's convention).

function igeEncrypt(data, key, iv) {
  const aes = crypto.createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const out = Buffer.alloc(data.length);
  let prevCipher = iv.subarray(0, 16);
  let prevPlain = iv.subarray(16, 32);
  for (let i = 0; i < data.length; i += 16) {
    const plain = data.subarray(i, i + 16);
    const cipher = xor(aes.update(xor(plain, prevCipher)), prevPlain);
    cipher.copy(out, i);
    [prevCipher, prevPlain] = [cipher, plain];
  }
  return out;
}

function igeDecrypt(data, key, iv) {
  const aes = crypto.createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const out = Buffer.alloc(data.length);
  let prevCipher = iv.subarray(0, 16);
  let prevPlain = iv.subarray(16, 32);
  for (let i = 0; i < data.length; i += 16) {
    const cipher = data.subarray(i, i + 16);
    const plain = xor(aes.update(xor(cipher, prevPlain)), prevCipher);
    plain.copy(out, i);
    [prevCipher, prevPlain] = [cipher, plain];
  }
  return out;
}

// ---- transports --------------------------------------------------------------------------

const MAX_FRAME = 16 * 1024 * 1024;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data) {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// The tag a plain connection starts with; obfuscated2 puts it at header[56:60] instead.
const TAGS = {
  abridged: Buffer.from('efefefef', 'hex'),
  intermediate: Buffer.from('eeeeeeee', 'hex'),
  padded_intermediate: Buffer.from('dddddddd', 'hex'),
};

// One direction's envelope: payload -> bytes on the wire.
function encodeFrame(framing, payload, state) {
  const n = payload.length;
  switch (framing) {
    case 'abridged':
      return n / 4 < 127
        ? concat(Buffer.from([n / 4]), payload)
        : concat(Buffer.from([127]), u32(n / 4).subarray(0, 3), payload);
    case 'intermediate':
      return concat(u32(n), payload);
    case 'padded_intermediate': {
      const padding = random(crypto.randomInt(16));
      return concat(u32(n + padding.length), payload, padding);
    }
    case 'full': {
      const head = concat(u32(n + 12), u32(state.sendSeq++));
      const body = concat(head, payload);
      return concat(body, u32(crc32(body)));
    }
  }
  throw new Error(`unknown framing ${framing}`);
}

// Splits the received stream into payloads.  Malformed frames throw: the connection is
// then unusable (a bad CRC or seqno means bytes were changed or lost).
class FrameReader {
  constructor(framing) {
    this.framing = framing;
    this.buf = Buffer.alloc(0);
    this.recvSeq = 0;
  }

  push(data) {
    this.buf = concat(this.buf, data);
    const payloads = [];
    for (let used; (used = this.next(payloads)) > 0;) this.buf = this.buf.subarray(used);
    return payloads;
  }

  // Parses one frame at the start of the buffer: bytes used, or 0 if incomplete.
  next(payloads) {
    const buf = this.buf;
    if (buf.length < (this.framing === 'abridged' && buf[0] < 127 ? 1 : 4)) return 0;
    if (this.framing === 'full') {
      const length = buf.readInt32LE(0);
      if (length < 0) { // a bare transport error code in place of a frame
        payloads.push(buf.subarray(0, 4));
        return buf.length;
      }
      if (length < 16 || length % 4 || length > MAX_FRAME + 12) {
        throw new Error(`full: bad length ${length}`);
      }
      if (buf.length < length) return 0;
      if (crc32(buf.subarray(0, length - 4)) !== buf.readUInt32LE(length - 4)) {
        throw new Error('full: CRC32 mismatch');
      }
      const seq = buf.readUInt32LE(4);
      if (seq !== this.recvSeq) throw new Error(`full: seqno ${seq}, expected ${this.recvSeq}`);
      this.recvSeq++;
      payloads.push(buf.subarray(8, length - 4));
      return length;
    }
    let head;
    let size;
    if (this.framing === 'abridged') {
      if (buf[0] & 0x80) return buf.length < 4 ? 0 : 4; // a quick-ack token: ignored
      [head, size] = buf[0] === 127 ? [4, buf.readUIntLE(1, 3) * 4] : [1, buf[0] * 4];
    } else {
      if (buf.readUInt32LE(0) & 0x80000000) return 4; // a quick-ack token: ignored
      [head, size] = [4, buf.readUInt32LE(0)];
      if (this.framing === 'intermediate' && size % 4) throw new Error('bad frame length');
    }
    if (size <= 0 || size > MAX_FRAME) throw new Error(`bad frame length ${size}`);
    if (buf.length < head + size) return 0;
    payloads.push(buf.subarray(head, head + size));
    return head + size;
  }
}

// Padded intermediate: the envelope length includes 0..15 random bytes; the packet itself
// says where it ends (unencrypted: 20 + its length field; encrypted: 24 + 16k).
function stripPadding(packet) {
  if (packet.readBigUInt64LE(0) === 0n) {
    const end = 20 + packet.readInt32LE(16);
    if (end < 20 || end > packet.length) throw new Error('padded: length beyond the packet');
    return packet.subarray(0, end);
  }
  return packet.subarray(0, packet.length - ((packet.length - 24) % 16));
}

// obfuscated2: a 64-byte random header, drawn again while it could be mistaken for another
// protocol (tdlib's list: abridged tag, HTTP methods, a TLS record, the intermediate tags,
// and bytes 4..8 all zero, which would look like the full transport's seqno 0).
const FORBIDDEN_FIRST_INTS = new Set([
  Buffer.from('HEAD').readUInt32LE(0), Buffer.from('POST').readUInt32LE(0),
  Buffer.from('GET ').readUInt32LE(0), Buffer.from('OPTI').readUInt32LE(0),
  0x02010316, 0xdddddddd, 0xeeeeeeee,
]);

function isForbiddenHeader(header) {
  return header[0] === 0xef
    || FORBIDDEN_FIRST_INTS.has(header.readUInt32LE(0))
    || header.readUInt32LE(4) === 0;
}

function obfuscatedHeader(tag, dc, proxyKey, firstCandidate) {
  let init = firstCandidate ? Buffer.from(firstCandidate) : random(64);
  while (isForbiddenHeader(init)) init = random(64);
  tag.copy(init, 56);
  init.writeInt16LE(dc, 60); // needed by MTProxy; harmless otherwise
  const reversed = Buffer.from(init).reverse();
  let [sendKey, sendIv] = [init.subarray(8, 40), init.subarray(40, 56)];
  let [recvKey, recvIv] = [reversed.subarray(8, 40), reversed.subarray(40, 56)];
  if (proxyKey) { // MTProxy: each key becomes SHA256(key || secret)
    sendKey = sha256(sendKey, proxyKey);
    recvKey = sha256(recvKey, proxyKey);
  }
  const encrypt = crypto.createCipheriv('aes-256-ctr', sendKey, sendIv);
  const decrypt = crypto.createDecipheriv('aes-256-ctr', recvKey, recvIv);
  // The header goes through the send stream too; only its last 8 bytes are sent encrypted.
  const wire = concat(init.subarray(0, 56), encrypt.update(init).subarray(56));
  return { wire, encrypt, decrypt };
}

// MTProxy secrets: 16 bytes, "dd" + 16 (padded intermediate), "ee" + 16 + domain (fake-TLS).
function parseSecret(hex) {
  if (!hex) return null;
  const raw = Buffer.from(hex, 'hex');
  if (raw.length === 16) return { key: raw };
  if (raw.length === 17 && raw[0] === 0xdd) return { key: raw.subarray(1) };
  if (raw.length >= 18 && raw.length <= 17 + 182 && raw[0] === 0xee) {
    return { key: raw.subarray(1, 17), domain: raw.subarray(17).toString('latin1') };
  }
  throw new Error('unsupported MTProxy secret');
}

// Fake-TLS (ee secrets): a browser-like TLS 1.3 ClientHello whose random field is
// HMAC-SHA256(key, hello) with the unix time XORed into its last 4 bytes.
function clientHello(domain, key) {
  const ext = (type, body) => concat(u16be(type), u16be(body.length), body);
  const vec16 = (body) => concat(u16be(body.length), body);
  const name = Buffer.from(domain, 'latin1');
  const x25519 = crypto.generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' });
  const extensions = concat(
    ext(0x0000, vec16(concat(Buffer.from([0]), vec16(name)))), // server_name
    ext(0x0017, Buffer.alloc(0)), // extended_master_secret
    ext(0x000a, vec16(Buffer.from('001d00170018', 'hex'))), // supported_groups
    ext(0x000b, Buffer.from('0100', 'hex')), // ec_point_formats
    ext(0x000d, vec16(Buffer.from('04030804040105030805050108060601', 'hex'))),
    ext(0x0010, vec16(Buffer.from('\x02h2\x08http/1.1', 'latin1'))), // ALPN
    ext(0x002b, Buffer.from('0403040303', 'hex')), // supported_versions: 1.3, 1.2
    ext(0x002d, Buffer.from('0101', 'hex')), // psk_key_exchange_modes
    ext(0x0033, vec16(concat(u16be(0x001d), vec16(Buffer.from(x25519.x, 'base64url'))))),
  );
  const ciphers = Buffer.from(
    '130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035', 'hex');
  const body = (exts) => concat(
    Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([32]), random(32),
    vec16(ciphers), Buffer.from([1, 0]), vec16(exts),
  );
  // Pad the record to 517 bytes, as Chrome does (5 record + 4 handshake header bytes).
  const room = 517 - 9 - body(extensions).length - 4;
  const hello = body(room >= 0 ? concat(extensions, ext(0x0015, Buffer.alloc(room))) : extensions);
  const record = concat(
    Buffer.from([0x16, 3, 1]), u16be(hello.length + 4),
    Buffer.from([1, 0]), u16be(hello.length), hello,
  );
  const mac = crypto.createHmac('sha256', key).update(record).digest();
  mac.writeUInt32LE((mac.readUInt32LE(28) ^ Math.floor(Date.now() / 1000)) >>> 0, 28);
  mac.copy(record, 11);
  return record;
}

// The proxy's answer: a ServerHello record, then change_cipher_spec and an application-data
// record.  Returns its length once complete (0 before).
function serverHelloLength(buf) {
  if (buf.length < 5) return 0;
  if (buf.readUIntBE(0, 3) !== 0x160303) throw new Error('fake-TLS: not a ServerHello');
  const second = 5 + buf.readUInt16BE(3);
  if (buf.length < second + 11) return 0;
  if (!buf.subarray(second, second + 9).equals(Buffer.from('140303000101170303', 'hex'))) {
    throw new Error('fake-TLS: unexpected records after the ServerHello');
  }
  const end = second + 11 + buf.readUInt16BE(second + 9);
  return buf.length >= end ? end : 0;
}

// Unwraps application-data records (17 03 03 len) from the stream, any split.
class TlsRecordReader {
  constructor() {
    this.head = Buffer.alloc(0);
    this.remaining = 0;
  }

  push(data) {
    const out = [];
    while (data.length) {
      if (this.remaining) {
        const take = Math.min(this.remaining, data.length);
        out.push(data.subarray(0, take));
        [data, this.remaining] = [data.subarray(take), this.remaining - take];
        continue;
      }
      const need = 5 - this.head.length;
      this.head = concat(this.head, data.subarray(0, need));
      data = data.subarray(need);
      if (this.head.length < 5) break;
      if (this.head.readUIntBE(0, 3) !== 0x170303) throw new Error('fake-TLS: bad record');
      this.remaining = this.head.readUInt16BE(3);
      this.head = Buffer.alloc(0);
    }
    return concat(...out);
  }
}

// One TCP connection: framing, optional obfuscation and MTProxy, and a queue of received
// MTProto packets.  Any transport failure closes it and fails every recv().
class Connection {
  constructor(cfg) {
    this.cfg = cfg;
    this.framing = cfg.framing;
    this.reader = new FrameReader(cfg.framing);
    this.state = { sendSeq: 0 };
    this.packets = [];
    this.waiter = null;
    this.error = null;
    this.raw = Buffer.alloc(0); // bytes before the fake-TLS ServerHello is verified
    this.ready = false;
  }

  async open() {
    const { cfg } = this;
    this.socket = net.connect(cfg.port, cfg.host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(`socket: ${err.message}`));
    this.socket.on('close', () => this.fail('connection closed'));
    await new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    let prefix = Buffer.alloc(0);
    if (cfg.secret?.domain) await this.fakeTlsHello(cfg.secret);
    if (cfg.obfuscated || cfg.secret) {
      if (this.framing === 'full') throw new Error('the full framing cannot be obfuscated');
      const header = obfuscatedHeader(
        TAGS[this.framing], cfg.dc, cfg.secret?.key, cfg.headerCandidate);
      [this.encrypt, this.decrypt] = [header.encrypt, header.decrypt];
      prefix = header.wire;
    } else if (this.framing !== 'full') {
      prefix = this.framing === 'abridged' ? Buffer.from([0xef]) : TAGS[this.framing];
    }
    this.ready = true;
    this.write(prefix, true);
    const early = this.raw; // bytes that followed the ServerHello, if any
    this.raw = Buffer.alloc(0);
    if (early.length) this.onData(early);
  }

  async fakeTlsHello(secret) {
    const hello = clientHello(secret.domain, secret.key);
    this.socket.write(hello);
    const timer = setTimeout(() => this.fail('no ServerHello'), 2 * this.cfg.timeout * 1000);
    let length;
    while (!(length = serverHelloLength(this.raw))) {
      if (!this.error) await new Promise((resolve) => { this.rawWaiter = resolve; });
      if (this.error) throw this.error;
    }
    clearTimeout(timer);
    const answer = Buffer.from(this.raw.subarray(0, length));
    this.raw = this.raw.subarray(length);
    const mac = Buffer.from(answer.subarray(11, 43));
    answer.fill(0, 11, 43);
    const want = crypto.createHmac('sha256', secret.key)
      .update(concat(hello.subarray(11, 43), answer)).digest();
    if (!same(want, mac)) throw new Error('fake-TLS: ServerHello HMAC mismatch');
    this.tls = { reader: new TlsRecordReader(), first: true };
  }

  // Raw bytes out: encrypted (obfuscation), then wrapped in TLS records (fake-TLS).
  write(data, unencryptedPrefix = false) {
    if (this.encrypt && !unencryptedPrefix) data = this.encrypt.update(data);
    if (this.tls) {
      const records = [];
      if (this.tls.first) records.push(Buffer.from('140303000101', 'hex'));
      this.tls.first = false;
      for (let i = 0; i < data.length; i += 2878) {
        const chunk = data.subarray(i, i + 2878);
        records.push(Buffer.from([0x17, 3, 3]), u16be(chunk.length), chunk);
      }
      data = concat(...records);
    }
    if (data.length) this.socket.write(data);
  }

  send(packet) {
    if (this.error) throw this.error;
    this.write(encodeFrame(this.framing, packet, this.state));
  }

  onData(chunk) {
    if (this.error) return;
    if (!this.ready) { // still reading the fake-TLS ServerHello
      this.raw = concat(this.raw, chunk);
      this.rawWaiter?.();
      return;
    }
    try {
      let data = chunk;
      if (this.tls) data = this.tls.reader.push(data);
      if (this.decrypt) data = this.decrypt.update(data);
      for (const payload of this.reader.push(data)) this.onPayload(payload);
    } catch (err) {
      this.fail(err.message);
    }
  }

  onPayload(payload) {
    if (payload.length < 24) { // not a message: a transport signal
      const code = payload.length >= 4 ? payload.readInt32LE(0) : 1;
      if (code === 0 || (code === -1 && payload.length >= 8)) return; // no-op / quick ack
      throw new Error(code < 0 ? `transport error ${code}` : 'malformed short packet');
    }
    this.deliver(this.framing === 'padded_intermediate' ? stripPadding(payload) : payload);
  }

  deliver(packet) {
    if (this.waiter) this.waiter.resolve(packet);
    else this.packets.push(packet);
  }

  // The next packet; rejects on a connection failure or after timeoutMs (if given).
  recv(timeoutMs) {
    if (this.packets.length) return Promise.resolve(this.packets.shift());
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = timeoutMs && setTimeout(() => {
        this.waiter = null;
        reject(new Error('timed out waiting for the server'));
      }, timeoutMs);
      const done = (fn) => (value) => {
        clearTimeout(timer);
        this.waiter = null;
        fn(value);
      };
      this.waiter = { resolve: done(resolve), reject: done(reject) };
    });
  }

  fail(reason) {
    if (this.error) return;
    this.error = new Error(reason);
    this.socket?.destroy();
    this.rawWaiter?.();
    this.waiter?.reject(this.error);
  }

  close() {
    this.fail('closed by the client');
  }
}

// ---- message ids ---------------------------------------------------------------------------

// Client msg_ids: server time * 2^32 (the low 32 bits are the fraction of a second),
// divisible by 4, strictly increasing.
class MsgIds {
  constructor() {
    this.offset = 0; // server time - local time, seconds
    this.last = 0n;
  }

  next() {
    const now = Date.now() / 1000 + this.offset;
    const seconds = Math.floor(now);
    const fraction = Math.floor((now - seconds) * 2 ** 32);
    let id = ((BigInt(seconds) << 32n) | BigInt(fraction)) & ~3n;
    if (id <= this.last) id = this.last + 4n;
    this.last = id;
    return id;
  }
}

// ---- the handshake: creating an auth key ---------------------------------------------------

// Telegram's 2048-bit DH prime: the only one accepted (pinned, as many clients do).
const DH_PRIME = BigInt(
  '0xC71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F'
  + '48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37'
  + '20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64'
  + '2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4'
  + 'A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754'
  + 'FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4'
  + 'E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F'
  + '0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B',
);
const DH_MARGIN = 1n << 1984n; // g_a, g_b must lie in [2^1984, p - 2^1984]

// g must generate the subgroup of prime order (p-1)/2: a quadratic residue mod p.
function generatorIsValid(g, p) {
  switch (g) {
    case 2: return p % 8n === 7n;
    case 3: return p % 3n === 2n;
    case 4: return true;
    case 5: return [1n, 4n].includes(p % 5n);
    case 6: return [19n, 23n].includes(p % 24n);
    case 7: return [3n, 5n, 6n].includes(p % 7n);
    default: return false;
  }
}

const inDhRange = (x) => x >= DH_MARGIN && x <= DH_PRIME - DH_MARGIN;

// The server's RSA key and its fingerprint: the lower 64 bits of SHA1 of the bare TL
// rsa_public_key n:bytes e:bytes, i.e. the last 8 bytes of the digest (as sent in resPQ).
function loadRsaKey(pem) {
  const jwk = crypto.createPublicKey(pem).export({ format: 'jwk' });
  const [n, e] = [Buffer.from(jwk.n, 'base64url'), Buffer.from(jwk.e, 'base64url')];
  return { n: toBig(n), e: toBig(e), fingerprint: sha1(tlBytes(n), tlBytes(e)).subarray(12) };
}

// RSA_PAD (core.telegram.org/mtproto/auth_key 4.1).
function rsaPad(data, key) {
  if (data.length > 144) throw new Error('RSA_PAD: data too long');
  const padded = concat(data, random(192 - data.length));
  for (;;) {
    const tempKey = random(32);
    const withHash = concat(Buffer.from(padded).reverse(), sha256(tempKey, padded));
    const aesEncrypted = igeEncrypt(withHash, tempKey, Buffer.alloc(32));
    const block = toBig(concat(xor(tempKey, sha256(aesEncrypted)), aesEncrypted));
    if (block < key.n) return fromBig(modPow(block, key.e, key.n), 256);
    // not below the modulus: draw a new temp_key
  }
}

// pq (below 2^64) is the product of two primes: Pollard's rho (Brent's variant) splits it.
function factor(pq) {
  for (let c = 1n; c < 64n; c++) {
    const f = (v) => (v * v + c) % pq;
    let [y, r, q, g, x, ys] = [2n, 1, 1n, 1n, 0n, 0n];
    while (g === 1n) {
      x = y;
      for (let i = 0; i < r; i++) y = f(y);
      for (let k = 0; k < r && g === 1n; k += 128) {
        ys = y;
        for (let i = 0; i < Math.min(128, r - k); i++) {
          y = f(y);
          q = (q * (x > y ? x - y : y - x)) % pq;
        }
        g = gcd(q, pq);
      }
      r *= 2;
    }
    if (g === pq) { // the batch overshot: retrace one step at a time
      do {
        ys = f(ys);
        g = gcd(x > ys ? x - ys : ys - x, pq);
      } while (g === 1n);
    }
    if (g !== pq) return g < pq / g ? [g, pq / g] : [pq / g, g];
  }
  throw new Error('cannot factor pq');
}

// tmp_aes_key / tmp_aes_iv, which protect server_DH_inner_data and client_DH_inner_data.
function tmpAes(newNonce, serverNonce) {
  const ns = sha1(newNonce, serverNonce);
  const sn = sha1(serverNonce, newNonce);
  return {
    key: concat(ns, sn.subarray(0, 12)),
    iv: concat(sn.subarray(12), sha1(newNonce, newNonce), newNonce.subarray(0, 4)),
  };
}

// Unencrypted messages: auth_key_id 0, msg_id, length, body.
async function plainCall(conn, msgIds, body, timeoutMs) {
  conn.send(concat(Buffer.alloc(8), i64(msgIds.next()), u32(body.length), body));
  const packet = await conn.recv(timeoutMs);
  if (packet.length < 20 || packet.readBigUInt64LE(0) !== 0n) {
    throw new Error('expected an unencrypted message');
  }
  if ((packet.readBigUInt64LE(8) & 1n) !== 1n) throw new Error('server msg_id is not odd');
  if (packet.readUInt32LE(16) !== packet.length - 20) throw new Error('plain message length');
  return new TLReader(packet.subarray(20));
}

// Every answer repeats our nonce (and, after resPQ, the server_nonce): compare them.
function checkNonces(what, got, want) {
  for (const [i, name] of [[0, 'nonce'], [1, 'server_nonce']].slice(0, want.length)) {
    if (!same(got[i], want[i])) throw new Error(`${what}: ${name} mismatch`);
  }
}

// Creates an auth key; every check happens before anything depending on it is sent.
// With expiresIn, a temporary key (p_q_inner_data_temp_dc).
async function handshake(conn, cfg, expiresIn) {
  const msgIds = new MsgIds();
  const timeoutMs = 2 * cfg.timeout * 1000;
  const nonce = random(16);

  // 1. req_pq_multi -> resPQ
  let r = await plainCall(conn, msgIds, concat(u32(ID.reqPqMulti), nonce), timeoutMs);
  r.expect(ID.resPQ, 'resPQ');
  checkNonces('resPQ', [r.take(16)], [nonce]);
  const serverNonce = r.take(16);
  const pqBytes = r.bytes();
  r.expect(ID.vector, 'a vector of fingerprints');
  const fingerprints = Array.from({ length: r.u32() }, () => r.take(8));
  if (!fingerprints.some((fp) => fp.equals(cfg.rsaKey.fingerprint))) {
    throw new Error('resPQ offers no RSA key we know');
  }
  if (pqBytes.length === 0 || pqBytes.length > 8 || pqBytes[0] === 0) throw new Error('bad pq');
  const [p, q] = factor(toBig(pqBytes));

  // 2. req_DH_params, carrying new_nonce in p_q_inner_data_(temp_)dc under RSA_PAD
  const newNonce = random(32);
  const inner = concat(
    u32(expiresIn ? ID.pqInnerDataTempDc : ID.pqInnerDataDc),
    tlBytes(pqBytes), tlBytes(fromBig(p)), tlBytes(fromBig(q)),
    nonce, serverNonce, newNonce, u32(cfg.dc), expiresIn ? u32(expiresIn) : Buffer.alloc(0),
  );
  const reqDH = concat(
    u32(ID.reqDHParams), nonce, serverNonce, tlBytes(fromBig(p)), tlBytes(fromBig(q)),
    cfg.rsaKey.fingerprint, tlBytes(rsaPad(inner, cfg.rsaKey)),
  );
  r = await plainCall(conn, msgIds, reqDH, timeoutMs);

  // 3. server_DH_params_ok: open and check the encrypted answer
  const kind = r.u32();
  if (kind === ID.serverDHParamsFail) {
    checkNonces('server_DH_params_fail', [r.take(16), r.take(16)], [nonce, serverNonce]);
    const valid = same(r.take(16), sha1(newNonce).subarray(4, 20));
    throw new Error(`server_DH_params_fail${valid ? '' : ' (with a wrong new_nonce_hash)'}`);
  }
  if (kind !== ID.serverDHParamsOk) throw new Error('expected server_DH_params');
  checkNonces('server_DH_params_ok', [r.take(16), r.take(16)], [nonce, serverNonce]);
  const encryptedAnswer = r.bytes();
  if (!encryptedAnswer.length || encryptedAnswer.length % 16) {
    throw new Error('encrypted_answer is not a multiple of 16 bytes');
  }
  const tmp = tmpAes(newNonce, serverNonce);
  const withHash = igeDecrypt(encryptedAnswer, tmp.key, tmp.iv); // SHA1(answer) + answer + pad
  r = new TLReader(withHash.subarray(20));
  r.expect(ID.serverDHInnerData, 'server_DH_inner_data');
  const answerNonces = [r.take(16), r.take(16)];
  const g = r.i32();
  const dhPrime = r.bytes();
  const gaBytes = r.bytes();
  const serverTime = r.i32();
  if (withHash.length - 20 - r.pos >= 16) throw new Error('answer padding of 16 bytes or more');
  if (!same(sha1(withHash.subarray(20, 20 + r.pos)), withHash.subarray(0, 20))) {
    throw new Error('SHA1(answer) mismatch');
  }
  checkNonces('server_DH_inner_data', answerNonces, [nonce, serverNonce]);
  if (toBig(dhPrime) !== DH_PRIME) throw new Error('dh_prime is not the known prime');
  if (!generatorIsValid(g, DH_PRIME)) throw new Error(`g = ${g} is not a valid generator`);
  const gA = toBig(gaBytes);
  if (gaBytes.length > 256 || !inDhRange(gA)) throw new Error('g_a out of range');
  msgIds.offset = serverTime - Date.now() / 1000;

  // 4. set_client_DH_params -> dh_gen_ok (dh_gen_retry: again with a new b)
  let retryId = Buffer.alloc(8);
  for (let attempt = 0; attempt < 5; attempt++) {
    let b;
    let gB;
    do {
      b = toBig(random(256));
      gB = modPow(BigInt(g), b, DH_PRIME);
    } while (!inDhRange(gB));
    const authKey = fromBig(modPow(gA, b, DH_PRIME), 256); // left-padded to 256 bytes
    const data = concat(
      u32(ID.clientDHInnerData), nonce, serverNonce, retryId, tlBytes(fromBig(gB)));
    let sealed = concat(sha1(data), data);
    sealed = concat(sealed, random((16 - (sealed.length % 16)) % 16));
    const setParams = concat(
      u32(ID.setClientDHParams), nonce, serverNonce, tlBytes(igeEncrypt(sealed, tmp.key, tmp.iv)),
    );
    r = await plainCall(conn, msgIds, setParams, timeoutMs);
    const answer = r.u32();
    const number = [ID.dhGenOk, ID.dhGenRetry, ID.dhGenFail].indexOf(answer) + 1;
    if (!number) throw new Error('expected dh_gen_ok/retry/fail');
    checkNonces('dh_gen', [r.take(16), r.take(16)], [nonce, serverNonce]);
    const auxHash = sha1(authKey).subarray(0, 8);
    const expected = sha1(newNonce, Buffer.from([number]), auxHash).subarray(4, 20);
    if (!same(r.take(16), expected)) throw new Error(`new_nonce_hash${number} mismatch`);
    if (answer === ID.dhGenFail) throw new Error('dh_gen_fail');
    if (answer === ID.dhGenOk) {
      return {
        authKey,
        keyId: sha1(authKey).subarray(12, 20),
        salt: xor(newNonce.subarray(0, 8), serverNonce.subarray(0, 8)),
        timeOffset: msgIds.offset,
        expiresAt: expiresIn ? serverTime + expiresIn : null,
      };
    }
    retryId = auxHash; // dh_gen_retry: retry_id = auth_key_aux_hash of the refused key
  }
  throw new Error('too many dh_gen_retry');
}

// ---- the encrypted session ---------------------------------------------------------------

// MTProto 2.0 KDF: x = 0 for client -> server, 8 for server -> client.
function messageKeys(authKey, msgKey, x) {
  const a = sha256(msgKey, authKey.subarray(x, x + 36));
  const b = sha256(authKey.subarray(40 + x, 76 + x), msgKey);
  return {
    key: concat(a.subarray(0, 8), b.subarray(8, 24), a.subarray(24, 32)),
    iv: concat(b.subarray(0, 8), a.subarray(8, 24), b.subarray(24, 32)),
  };
}

// MTProto 1.0 (only to seal the auth.bindTempAuthKey payload): msg_key = SHA1(plaintext)
// [4:20] without the padding, and the SHA1-based KDF with x = 0.
function encryptV1(authKey, keyId, plaintext) {
  const msgKey = sha1(plaintext).subarray(4, 20);
  const k = (from, to) => authKey.subarray(from, to);
  const a = sha1(msgKey, k(0, 32));
  const b = sha1(k(32, 48), msgKey, k(48, 64));
  const c = sha1(k(64, 96), msgKey);
  const d = sha1(msgKey, k(96, 128));
  const key = concat(a.subarray(0, 8), b.subarray(8, 20), c.subarray(4, 16));
  const iv = concat(a.subarray(8, 20), b.subarray(0, 8), c.subarray(16, 20), d.subarray(0, 8));
  const padded = concat(plaintext, random((16 - (plaintext.length % 16)) % 16));
  return concat(keyId, msgKey, igeEncrypt(padded, key, iv));
}

// Remembers the last 1000 server msg_ids (tdlib's rule): a duplicate is refused, and so is
// an id below all of them once the window is full.
class ReplayWindow {
  constructor(size = 1000) {
    this.size = size;
    this.sorted = [];
    this.seen = new Set();
  }

  check(id) {
    if (this.seen.has(id)) return 'duplicate msg_id';
    if (this.sorted.length >= this.size && id < this.sorted[0]) return 'msg_id below the window';
    return null;
  }

  add(id) {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, id);
    this.seen.add(id);
    if (this.sorted.length > this.size) this.seen.delete(this.sorted.shift());
  }
}

// Thrown for a packet that must be dropped (the session goes on).
class Drop extends Error {}

// The same words for every failure up to the length/padding checks (checklist C4): no
// information from a packet that fails them is used, not even why it failed.
const INVALID_PACKET = 'dropped an invalid encrypted packet';

const LOST = 'transport error -404';

// A session's state on one connection under one key.
function fresh(conn, key) {
  const msgIds = new MsgIds();
  msgIds.offset = key.timeOffset; // from server_DH_inner_data.server_time
  return {
    conn,
    key, // { authKey, keyId, salt, timeOffset, expiresAt } from handshake()
    salt: key.salt,
    sessionId: random(8),
    msgIds,
    seqNo: 0, // content-related messages sent so far
    window: new ReplayWindow(),
    serverOffset: null, // server time - local time, from the first server msg_id
  };
}

class Session {
  constructor(conn, key) {
    Object.assign(this, fresh(conn, key));
    this.pending = new Map(); // msg_id -> a request awaiting its answer
    this.closed = null;
  }

  // Encrypts one message and sends it; returns its msg_id.
  send(body, { contentRelated = true, msgId = this.msgIds.next() } = {}) {
    const seqNo = contentRelated ? 2 * this.seqNo++ + 1 : 2 * this.seqNo;
    const header = concat(this.salt, this.sessionId, i64(msgId), u32(seqNo), u32(body.length));
    const length = header.length + body.length;
    // 12..1024 random bytes of padding, to a multiple of 16
    const padding = random(12 + ((16 - ((length + 12) % 16)) % 16) + 16 * crypto.randomInt(4));
    const plaintext = concat(header, body, padding);
    const msgKey = sha256(this.key.authKey.subarray(88, 120), plaintext).subarray(8, 24);
    const { key, iv } = messageKeys(this.key.authKey, msgKey, 0);
    this.conn.send(concat(this.key.keyId, msgKey, igeEncrypt(plaintext, key, iv)));
    return msgId;
  }

  // Sends a content-related request and resolves with what answers it: { pong }, { result },
  // { error }, { timeout: true } or { abandoned: true }.
  request(body, timeoutMs, extra = {}) {
    if (this.closed) return Promise.resolve({ error: this.closed });
    return new Promise((resolve) => {
      const entry = { body, ...extra };
      const timer = setTimeout(() => entry.settle({ timeout: true }), timeoutMs);
      entry.settle = (outcome) => {
        clearTimeout(timer);
        this.pending.delete(entry.msgId);
        resolve(outcome);
      };
      try {
        entry.msgId = this.send(body, { msgId: extra.msgId });
        this.pending.set(entry.msgId, entry);
      } catch (err) {
        entry.settle({ error: err.message });
      }
    });
  }

  async ping(pingId, timeoutSeconds) {
    const body = concat(u32(ID.ping), i64(BigInt(pingId)));
    const outcome = await this.request(body, timeoutSeconds * 1000, { pingId });
    if (outcome.abandoned) return false; // the probe script stopped waiting: nothing to say
    if (outcome.pong) emit({ event: 'pong', ping_id: pingId });
    else if (outcome.timeout) emit({ event: 'timeout', ping_id: pingId });
    else emit({ event: 'error', error: outcome.error ?? 'unexpected answer to ping' });
    return Boolean(outcome.pong);
  }

  abandon(pingId) {
    for (const entry of this.pending.values()) {
      if (entry.pingId === pingId) entry.settle({ abandoned: true });
    }
  }

  // auth.bindTempAuthKey: proves, under the temporary key, that we hold the permanent one.
  async bindTempKey(perm, timeoutMs) {
    const msgId = this.msgIds.next(); // the inner message names the outer msg_id
    const nonce = random(8);
    const inner = concat(
      u32(ID.bindAuthKeyInner), nonce, this.key.keyId, perm.keyId, this.sessionId,
      u32(this.key.expiresAt),
    );
    const plaintext = concat(random(16), i64(msgId), u32(0), u32(inner.length), inner);
    const body = concat(
      u32(ID.bindTempAuthKey), perm.keyId, nonce, u32(this.key.expiresAt),
      tlBytes(encryptV1(perm.authKey, perm.keyId, plaintext)),
    );
    const outcome = await this.request(body, timeoutMs, { msgId });
    if (!outcome.result || outcome.result.readUInt32LE(0) !== ID.boolTrue) {
      throw new Error(`auth.bindTempAuthKey failed: ${outcome.error ?? 'no boolTrue'}`);
    }
  }

  // Reads packets until the connection fails; then fails every request in flight, unless
  // the server lost our temporary key (-404) and we may start again (this.perm, this.cfg).
  async run() {
    for (let restarts = 0; ;) {
      let packet;
      try {
        packet = await this.conn.recv();
      } catch (err) {
        if (this.perm && this.cfg.reconnect && err.message === LOST && restarts++ < 3) {
          try {
            await this.replaceTempKey();
            continue;
          } catch (again) {
            err = again;
          }
        }
        this.closed = err.message;
        for (const entry of this.pending.values()) entry.settle({ error: err.message });
        return;
      }
      try {
        this.receive(packet);
      } catch (err) { // a dropped packet; the session goes on
        emit({ event: 'error', error: err instanceof Drop ? err.message : `bug: ${err.stack}` });
      }
    }
  }

  // The temporary key is gone: a new connection and a new temporary key, then (once it is
  // bound: nothing else goes out under an unbound key, nor under the permanent one) the
  // requests still waiting are sent again with new msg_ids.
  async replaceTempKey() {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    const conn = new Connection(this.cfg);
    try {
      await conn.open();
      const temp = await handshake(conn, this.cfg, this.cfg.tempKeyExpiresIn);
      Object.assign(this, fresh(conn, temp));
    } catch (err) {
      conn.close();
      for (const entry of waiting) this.pending.set(entry.msgId, entry);
      throw err;
    }
    this.bindTempKey(this.perm, 2 * this.cfg.timeout * 1000).then(
      () => {
        for (const entry of waiting) {
          entry.msgId = this.send(entry.body);
          this.pending.set(entry.msgId, entry);
        }
      },
      (err) => {
        for (const entry of waiting) entry.settle({ error: err.message });
        this.conn.close();
      },
    );
  }

  // Decrypts and checks one packet; throws Drop if it must be ignored.
  receive(packet) {
    const authKey = this.key.authKey;
    // 1. public checks: size, auth_key_id
    if (packet.length < 40 || (packet.length - 24) % 16) throw new Drop(INVALID_PACKET);
    if (!packet.subarray(0, 8).equals(this.key.keyId)) throw new Drop(INVALID_PACKET);
    // 2. decrypt all of it, and 3. check msg_key over the whole plaintext, padding included
    const msgKey = packet.subarray(8, 24);
    const { key, iv } = messageKeys(authKey, msgKey, 8);
    const plain = igeDecrypt(packet.subarray(24), key, iv);
    if (!same(sha256(authKey.subarray(96, 128), plain).subarray(8, 24), msgKey)) {
      throw new Drop(INVALID_PACKET);
    }
    // 4. only now read the plaintext: the length field and 12..1024 bytes of padding
    const length = plain.length >= 32 ? plain.readInt32LE(28) : -1;
    const padding = plain.length - 32 - length;
    if (length < 0 || length % 4 || padding < 12 || padding > 1024) {
      throw new Drop(INVALID_PACKET);
    }
    // 5. session_id, msg_id parity, replay window, time window
    if (!plain.subarray(8, 16).equals(this.sessionId)) throw new Drop('dropped: wrong session_id');
    const msgId = plain.readBigInt64LE(16);
    const body = plain.subarray(32, 32 + length);
    if ((msgId & 1n) !== 1n) throw new Drop('dropped: server msg_id is not odd');
    const replay = this.window.check(msgId);
    if (replay) throw new Drop(`dropped: ${replay}`);
    this.checkTime(msgId, body);
    // 6. the body; a container is split and each message in it checked
    const messages = body.length >= 4 && body.readUInt32LE(0) === ID.msgContainer
      ? this.splitContainer(msgId, body)
      : [{ msgId, seqNo: plain.readInt32LE(24), body }];
    this.window.add(msgId);
    this.serverOffset ??= Number(msgId) / 2 ** 32 - Date.now() / 1000;
    // 7. each message on its own
    const acks = [];
    for (const message of messages) {
      if (message.msgId !== msgId) {
        const reason = this.window.check(message.msgId);
        if (reason) {
          emit({ event: 'error', error: `dropped a message: ${reason}` });
          continue;
        }
        this.window.add(message.msgId);
      }
      if (message.seqNo & 1) acks.push(message.msgId);
      this.handle(message.body, msgId);
    }
    if (acks.length && !this.conn.error) { // acknowledge content-related messages
      const ids = concat(...acks.map((id) => i64(id)));
      this.send(concat(u32(ID.msgsAck), u32(ID.vector), u32(acks.length), ids),
        { contentRelated: false });
    }
  }

  // Server msg_ids more than 300 s old or 30 s ahead of the server time are refused, once
  // the server time is known (from its first message).  A bad_server_salt or
  // bad_msg_notification about a message we sent is exempt: it may be what fixes our clock.
  checkTime(msgId, body) {
    if (this.serverOffset === null) return;
    const age = Date.now() / 1000 + this.serverOffset - Number(msgId) / 2 ** 32;
    if (age <= 300 && age >= -30) return;
    const kind = body.length >= 12 ? body.readUInt32LE(0) : 0;
    const exempt = (kind === ID.badServerSalt || kind === ID.badMsgNotification)
      && this.pending.has(body.readBigInt64LE(4));
    if (!exempt) throw new Drop(`dropped: msg_id ${age > 0 ? 'too old' : 'too far ahead'}`);
  }

  // msg_container: 1..1024 messages, each with a lower, odd msg_id and a consistent length.
  splitContainer(containerId, body) {
    const r = new TLReader(body);
    const bad = new Drop('dropped: malformed container');
    try {
      r.u32();
      const count = r.u32();
      if (count < 1 || count > 1024) throw bad;
      const messages = [];
      for (let i = 0; i < count; i++) {
        const msgId = r.long();
        const seqNo = r.i32();
        const size = r.i32();
        if (msgId >= containerId || (msgId & 1n) !== 1n || size < 4 || size % 4) throw bad;
        const inner = r.take(size);
        if (inner.readUInt32LE(0) === ID.msgContainer) throw bad; // no nesting
        messages.push({ msgId, seqNo, body: inner });
      }
      if (r.pos !== body.length) throw bad;
      return messages;
    } catch (err) {
      throw err instanceof Drop ? err : bad;
    }
  }

  // One accepted message (outerMsgId: the packet's msg_id, the server's clock): answers to
  // our requests, and the service messages we need.
  handle(body, outerMsgId) {
    const r = new TLReader(body);
    try {
      const kind = r.u32();
      if (kind === ID.pong) {
        this.answer(r.long(), body);
      } else if (kind === ID.rpcResult) {
        this.answer(r.long(), body.subarray(12));
      } else if (kind === ID.newSessionCreated) {
        r.take(16); // first_msg_id, unique_id
        this.salt = Buffer.from(r.take(8));
      } else if (kind === ID.badServerSalt) {
        // Only for a message we sent: take the new salt, re-send it with a new msg_id.
        const badMsgId = r.long();
        r.take(8); // bad_msg_seqno, error_code
        const salt = Buffer.from(r.take(8));
        const entry = this.pending.get(badMsgId);
        if (!entry) throw new Drop('ignored bad_server_salt for a message we did not send');
        this.salt = salt;
        this.pending.delete(badMsgId);
        entry.msgId = this.send(entry.body);
        this.pending.set(entry.msgId, entry);
      } else if (kind === ID.badMsgNotification) {
        const badMsgId = r.long();
        r.take(4); // bad_msg_seqno
        const code = r.i32();
        const entry = this.pending.get(badMsgId);
        if (!entry) throw new Drop('ignored bad_msg_notification for a message we did not send');
        if (code === 16 || code === 17) {
          // Our clock is off: take the server's from this packet's msg_id and send the
          // message again under a new msg_id (never the old one on its own).
          this.msgIds.offset = Number(outerMsgId) / 2 ** 32 - Date.now() / 1000;
          if (code === 17) this.msgIds.last = 0n; // our later ids were all refused as too high
          this.pending.delete(badMsgId);
          entry.msgId = this.send(entry.body);
          this.pending.set(entry.msgId, entry);
        } else {
          entry.settle({ error: `bad_msg_notification code ${code}` });
        }
      } else if (kind === ID.msgResendReq) {
        // The server lost these: send again those still awaiting an answer, each under a
        // new msg_id (never the old one on its own).
        if (r.u32() !== ID.vector) throw new Error('msg_resend_req without a vector');
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const msgId = r.long();
          const entry = this.pending.get(msgId);
          if (!entry) continue;
          this.pending.delete(msgId);
          entry.msgId = this.send(entry.body);
          this.pending.set(entry.msgId, entry);
        }
      }
      // msgs_ack, future_salts, updates ...: nothing to do here
    } catch (err) {
      const error = err instanceof Drop ? err.message : `malformed message: ${err.message}`;
      emit({ event: 'error', error });
    }
  }

  // pong or rpc_result for request reqMsgId: settle it.
  answer(reqMsgId, result) {
    const entry = this.pending.get(reqMsgId);
    if (!entry) return; // not ours, or answered already
    const kind = result.readUInt32LE(0);
    if (kind === ID.pong && entry.pingId !== undefined) {
      const r = new TLReader(result.subarray(4));
      if (r.long() === reqMsgId && r.long() === BigInt(entry.pingId)) entry.settle({ pong: true });
    } else if (kind === ID.rpcError) {
      const r = new TLReader(result.subarray(4));
      entry.settle({ error: `rpc_error ${r.i32()} ${r.bytes().toString()}` });
    } else {
      entry.settle({ result });
    }
  }
}

// ---- the probe script ----------------------------------------------------------------------

function config() {
  const env = (name, fallback = '') => process.env[`MTCRYPT_CONFORMANCE_${name}`] ?? fallback;
  const candidate = env('HEADER_CANDIDATE');
  return {
    host: env('HOST', '127.0.0.1'),
    port: Number(env('PORT')),
    dc: Number(env('DC', '2')),
    rsaKey: loadRsaKey(env('RSA_PUBLIC_KEY')),
    framing: env('FRAMING', 'intermediate'),
    obfuscated: env('OBFUSCATED') === '1',
    secret: parseSecret(env('SECRET')),
    headerCandidate: candidate ? Buffer.from(candidate, 'hex') : null,
    tempKeyExpiresIn: Number(env('TEMP_KEY_EXPIRES_IN', '0')),
    reconnect: env('RECONNECT') === '1',
    mode: env('MODE', 'handshake'),
    timeout: Number(env('PING_TIMEOUT', '3')),
  };
}

// Creates the keys (a permanent one, and a bound temporary one if asked) and the session.
// A handshake query answered with -404 means: start again, on a new connection, with a new
// nonce (a permanent key made before is kept).
async function connect(cfg) {
  let perm = null;
  for (let attempt = 0; ; attempt++) {
    const conn = new Connection(cfg);
    try {
      await conn.open();
      perm ??= await handshake(conn, cfg);
      if (!cfg.tempKeyExpiresIn) return new Session(conn, perm);
      // PFS: a temporary key, bound to the permanent one; the session runs under it only.
      const temp = await handshake(conn, cfg, cfg.tempKeyExpiresIn);
      const session = new Session(conn, temp);
      Object.assign(session, { perm, cfg });
      session.running = session.run();
      await session.bindTempKey(perm, 2 * cfg.timeout * 1000);
      return session;
    } catch (err) {
      conn.close();
      if (!(cfg.reconnect && err.message === LOST && attempt < 3)) throw err;
      await sleep(50 * 2 ** attempt);
    }
  }
}

async function main() {
  let cfg;
  let session;
  try {
    cfg = config();
    session = await connect(cfg);
  } catch (err) {
    emit({ event: 'handshake', ok: false, error: err.message });
    return 1;
  }
  emit({ event: 'handshake', ok: true });
  if (cfg.mode === 'session') {
    session.running ??= session.run();
    const t = cfg.timeout;
    if (await session.ping(1, t)) {
      // 2 and 3 together; wait for 3, then briefly for 2
      let mutatedDone = false;
      const mutated = session.ping(2, t).then(() => { mutatedDone = true; });
      await sleep(10);
      await session.ping(3, t);
      if (!mutatedDone) await Promise.race([mutated, sleep(150)]);
      session.abandon(2);
      await session.ping(4, Math.min(t, 1));
    }
  }
  session.conn.close();
  return 0;
}

main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err) => {
    emit({ event: 'error', error: `crashed: ${err.stack}` });
    process.exit(2);
  },
);

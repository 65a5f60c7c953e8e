// The official `openai` npm package against a real `chatterd serve` (espeak engine, loopback).
// Usage: node openai_speech.mjs PATH/TO/chatterd
// Exit codes: 0 pass, 1 fail (also when the package is not installed: `scripts/setup --deps`
// runs `npm ci` in tests/clients). A machine without node gets a loud skip from CMake instead
// (tests/CMakeLists.txt).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules', 'openai'))) {
  console.error('FAIL: tests/clients/node_modules/openai is missing; run `scripts/setup --deps` ' +
                '(or `npm ci` in tests/clients)');
  process.exit(1);
}
const chatterd = process.argv[2];
if (!chatterd || !existsSync(chatterd)) {
  console.error(`usage: node openai_speech.mjs PATH/TO/chatterd (got ${chatterd})`);
  process.exit(1);
}
const { default: OpenAI } = await import('openai');

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
}

// The API key comes from the environment (CHATTERD_API_KEY), which also checks that layer.
const apiKey = 'sk-chatterd-test';
const server = spawn(chatterd, ['serve', '--port', '0', '--model', 'espeak', '--threads', '1'], {
  env: { ...process.env, CHATTERD_API_KEY: apiKey },
  stdio: ['ignore', 'inherit', 'pipe'],
});
let log = '';
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 30000);
  server.stderr.on('data', (d) => {
    log += d.toString();
    const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
  server.on('exit', (code) => reject(new Error(`server exited (${code}):\n${log}`)));
});
if (log.includes(apiKey)) fail('the start-up banner printed the API key');
if (!/api_key = set/.test(log)) fail(`effective config does not show api_key = set:\n${log}`);

const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey, maxRetries: 0 });
try {
  const wavResponse = await client.audio.speech.create({
    model: 'tts-1',
    voice: 'alloy',
    input: 'Hello from the official OpenAI client.',
    response_format: 'wav',
  });
  const wav = Buffer.from(await wavResponse.arrayBuffer());
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE') {
    fail('not a RIFF/WAVE body');
  }
  if (wav.readUInt32LE(24) !== 24000) fail(`sample rate ${wav.readUInt32LE(24)}`);
  if (wav.readUInt32LE(40) !== wav.length - 44) fail('data size does not match the body');
  if (wav.length < 44 + 24000) fail(`only ${wav.length} bytes of WAV`);
  console.log(`wav: ${wav.length} bytes, ${((wav.length - 44) / 48000).toFixed(2)} s`);

  const pcmResponse = await client.audio.speech.create({
    model: 'tts-1', voice: 'nova', input: 'Raw samples.', response_format: 'pcm',
  });
  const pcm = Buffer.from(await pcmResponse.arrayBuffer());
  if (pcm.length === 0 || pcm.length % 2 !== 0) fail(`pcm body of ${pcm.length} bytes`);
  console.log(`pcm: ${pcm.length} bytes`);

  // OpenAI's default format, asked for by name: an MPEG audio body (an ID3 tag or a frame sync).
  const mp3Response = await client.audio.speech.create({
    model: 'tts-1', voice: 'alloy', input: 'Compressed.', response_format: 'mp3',
  });
  if (mp3Response.headers.get('content-type') !== 'audio/mpeg') {
    fail(`mp3 content type ${mp3Response.headers.get('content-type')}`);
  }
  const mp3 = Buffer.from(await mp3Response.arrayBuffer());
  const mpegStart = mp3.toString('ascii', 0, 3) === 'ID3' || (mp3[0] === 0xff && (mp3[1] & 0xe0) === 0xe0);
  if (mp3.length < 100 || !mpegStart) fail(`not an MP3 body (${mp3.length} bytes)`);
  console.log(`mp3: ${mp3.length} bytes`);

  // Streamed (`stream` is our extension; the client passes body fields through): the raw
  // response body is read as it arrives, so the audio must come in more than one piece over a
  // chunked transfer and add up to whole, non-silent 16-bit samples.
  const streamed = await client.audio.speech
    .create({
      model: 'tts-1', voice: 'alloy', response_format: 'pcm', stream: true,
      input: 'Streamed through the official client, one piece after another, as it is made.',
    })
    .asResponse();
  const encoding = streamed.headers.get('transfer-encoding');
  if (encoding !== 'chunked') fail(`streamed response: transfer-encoding ${encoding}`);
  const pieces = [];
  for await (const piece of streamed.body) pieces.push(Buffer.from(piece));
  const all = Buffer.concat(pieces);
  if (pieces.length < 2) fail(`streamed audio came in ${pieces.length} piece(s)`);
  if (all.length < 4800 || all.length % 2 !== 0) fail(`streamed pcm body of ${all.length} bytes`);
  let loud = 0;
  for (let i = 0; i + 1 < all.length; i += 2) loud = Math.max(loud, Math.abs(all.readInt16LE(i)));
  if (loud === 0) fail('streamed pcm is all zeros');
  console.log(`streamed pcm: ${all.length} bytes in ${pieces.length} pieces, peak ${loud}`);

  // A wrong key is refused with 401, surfaced by the client as AuthenticationError.
  const wrong = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'nope', maxRetries: 0 });
  try {
    await wrong.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'x' });
    fail('a wrong API key was accepted');
  } catch (e) {
    if (e.status !== 401) fail(`wrong key: expected 401, got ${e.status} ${e.message}`);
  }
  // An unsupported format: 400 with the supported ones named.
  try {
    await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'x', response_format: 'aac' });
    fail('aac was accepted');
  } catch (e) {
    if (e.status !== 400 || !String(e.message).includes('wav, pcm, mp3, opus, flac')) {
      fail(`aac: ${e.status} ${e.message}`);
    }
  }
} catch (e) {
  fail(`request failed: ${e.stack ?? e}`);
}

// Graceful shutdown on SIGTERM: exit status 0.
const code = await new Promise((resolve) => {
  server.removeAllListeners('exit');
  server.on('exit', (c) => resolve(c));
  server.kill('SIGTERM');
});
if (code !== 0) fail(`server exited with ${code} after SIGTERM:\n${log}`);
if (!process.exitCode) console.log('PASS');

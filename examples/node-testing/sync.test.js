// A Node suite against `dingstore serve --test-mode`: the official DingTalk SDK for Node
// (@alicloud/dingtalk) talks to dingstore as to DingTalk, and the suite arranges what it needs
// through the HTTP controls under /_dingstore/ (docs/testing.md, "HTTP controls").
//
//   dingstore serve --test-mode --port 8080 &
//   DINGSTORE_URL=http://127.0.0.1:8080 npm test
'use strict';

const assert = require('node:assert/strict');
const { test, before, beforeEach } = require('node:test');

const { Config } = require('@alicloud/openapi-client');
const { RuntimeOptions } = require('@alicloud/tea-util');
const OAuth = require('@alicloud/dingtalk/oauth2_1_0');
const Storage = require('@alicloud/dingtalk/storage_1_0');

const BASE = process.env.DINGSTORE_URL || 'http://127.0.0.1:8080';
const config = new Config({ protocol: 'http', endpoint: new URL(BASE).host });
const storage = new Storage.default(config);
const runtime = new RuntimeOptions({ autoretry: false });

// --- the HTTP controls -----------------------------------------------------------------------

async function control(method, path, body) {
  const response = await fetch(`${BASE}/_dingstore/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${answer.code}`);
  return answer;
}

// --- the app under test: a few calls of a "sync a folder" app -------------------------------

let org; // { corpId, unionId, appKey, appSecret }: a fresh org per run
let headers; // the app's access token, for every storage call

function call(name, ...args) {
  const Headers = Storage[`${name[0].toUpperCase()}${name.slice(1)}Headers`];
  return storage[`${name}WithOptions`](...args, new Headers(headers), runtime);
}

async function newSpace() {
  const request = new Storage.AddSpaceRequest({ unionId: org.unionId });
  return (await call('addSpace', request)).body.space;
}

async function addFolder(spaceId, name, parentId = '0') {
  const request = new Storage.AddFolderRequest({ unionId: org.unionId, name });
  return (await call('addFolder', spaceId, parentId, request)).body.dentry;
}

async function getTask(taskId) {
  const request = new Storage.GetTaskRequest({ unionId: org.unionId });
  return (await call('getTask', taskId, request)).body.task;
}

before(async () => {
  org = await control('POST', 'orgs', { name: 'node example' });
  const oauth = new OAuth.default(config);
  const token = await oauth.getAccessToken(
    new OAuth.GetAccessTokenRequest({ appKey: org.appKey, appSecret: org.appSecret }),
  );
  headers = { xAcsDingtalkAccessToken: token.body.accessToken };
});

beforeEach(async () => {
  // each test starts from an empty org: its storage emptied, its app and token kept
  await control('POST', 'reset', { corpId: org.corpId });
  await control('DELETE', `faults?corpId=${org.corpId}`);
  await control('POST', 'tasks/resume', { corpId: org.corpId });
});

test('an injected fault reaches the SDK as DingTalk error', async () => {
  const space = await newSpace();
  await control('POST', 'faults', {
    operation: 'AddFolder',
    code: 'quotaUsedExceeded',
    status: 403,
    message: 'no room left',
    corpId: org.corpId,
  });
  await assert.rejects(addFolder(space.id, 'a'), (err) => {
    assert.equal(err.code, 'quotaUsedExceeded');
    assert.equal(err.data.statusCode, 403);
    assert.equal(err.data.message, 'no room left');
    assert.ok(err.data.requestid);
    return true;
  });
  assert.equal((await addFolder(space.id, 'a')).name, 'a'); // once only
});

test('a paused copy shows its progress step by step', async () => {
  const space = await newSpace();
  const top = await addFolder(space.id, 'top');
  for (const name of ['a', 'b', 'c', 'd', 'e']) await addFolder(space.id, name, top.id);
  await control('POST', 'tasks/pause', { corpId: org.corpId });
  const copy = await call(
    'copyDentry',
    space.id,
    top.id,
    new Storage.CopyDentryRequest({
      unionId: org.unionId,
      targetSpaceId: space.id,
      targetFolderId: '0',
      option: new Storage.CopyDentryRequestOption({ conflictStrategy: 'AUTO_RENAME' }),
    }),
  );
  const taskId = copy.body.taskId;
  assert.equal((await getTask(taskId)).status, 'INIT');
  const counts = [];
  for (;;) {
    assert.deepEqual(await control('POST', 'tasks/step', { corpId: org.corpId }), { steps: 1 });
    const task = await getTask(taskId);
    if (task.status !== 'IN_PROGRESS') break;
    counts.push(task.successCount);
  }
  assert.ok(counts.some((n) => n > 0 && n < 6), `progress mid-copy: ${counts}`);
  const done = await getTask(taskId);
  assert.deepEqual([done.status, done.successCount], ['SUCCESS', 6]);
});

test('fail the next step of a task', async () => {
  const space = await newSpace();
  const top = await addFolder(space.id, 'top');
  await addFolder(space.id, 'inner', top.id);
  await control('POST', 'tasks/pause', { corpId: org.corpId });
  const copy = await call(
    'copyDentry',
    space.id,
    top.id,
    new Storage.CopyDentryRequest({
      unionId: org.unionId,
      targetSpaceId: space.id,
      targetFolderId: '0',
      option: new Storage.CopyDentryRequestOption({ conflictStrategy: 'AUTO_RENAME' }),
    }),
  );
  await control('POST', `tasks/${copy.body.taskId}/fail-next-step`, { message: 'disk on fire' });
  await control('POST', 'tasks/step', { corpId: org.corpId });
  const task = await getTask(copy.body.taskId);
  assert.deepEqual([task.status, task.failMessage], ['FAIL', 'disk on fire']);
});

test('events are listed in order, and awaited', async () => {
  const subscribe = new Storage.SubscribeEventRequest({
    unionId: org.unionId,
    scope: 'ORG',
    scopeId: org.corpId,
  });
  await call('subscribeEvent', subscribe);
  const space = await newSpace();
  const a = await addFolder(space.id, 'a');
  const b = await addFolder(space.id, 'b');
  const { events } = await control('GET', `events?corpId=${org.corpId}`);
  assert.deepEqual(
    events.map((e) => [e.eventType, e.dentryId, e.status]),
    [
      ['storage_dentry_create', a.id, 'PENDING'],
      ['storage_dentry_create', b.id, 'PENDING'],
    ],
  );
  // nothing receives them here (no Stream client): the wait says so
  await assert.rejects(
    control('POST', 'events/wait-delivered', { corpId: org.corpId, timeout: 0.05 }),
    /408 waitTimeout/,
  );
});

test('a reset empties the org, the token still works', async () => {
  const space = await newSpace();
  await control('POST', 'reset', { corpId: org.corpId });
  const request = new Storage.GetSpaceRequest({ unionId: org.unionId });
  await assert.rejects(call('getSpace', space.id, request), { code: 'spaceNotExist' });
  assert.ok((await newSpace()).id);
});

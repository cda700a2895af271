// fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) for the engine, which node:fs lacks: an
// UNMAP of whole chunks and a deleted snapshot's COW slots give their blocks back to the file
// system instead of being overwritten with zeros. Node-API (ABI-stable across Node versions);
// the call runs on libuv's thread pool, since a punch can wait on the file system's journal.
//   punchHole(fd: number, offset: number, length: number, done: (errno: number) => void): void
// done(0) on success, done(errno) otherwise (EOPNOTSUPP where the file system has no holes).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_ref done;
  int fd;
  int64_t offset;
  int64_t length;
  int err;
} Punch;

static void execute(napi_env env, void* data) {
  (void)env;
  Punch* p = data;
  p->err = fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, p->offset, p->length) == 0 ? 0 : errno;
}

static void complete(napi_env env, napi_status status, void* data) {
  Punch* p = data;
  napi_value done, global, arg;
  napi_get_reference_value(env, p->done, &done);
  napi_get_global(env, &global);
  napi_create_int32(env, status == napi_ok ? p->err : ECANCELED, &arg);
  napi_call_function(env, global, done, 1, &arg, NULL);
  napi_delete_reference(env, p->done);
  napi_delete_async_work(env, p->work);
  free(p);
}

static napi_value punch_hole(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "punchHole(fd, offset, length, done)");
    return NULL;
  }
  int32_t fd;
  int64_t offset, length;
  napi_valuetype kind;
  napi_typeof(env, argv[3], &kind);
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok || kind != napi_function || fd < 0 || offset < 0 ||
      length <= 0) {
    napi_throw_type_error(env, NULL, "punchHole(fd, offset, length, done): bad arguments");
    return NULL;
  }
  Punch* p = calloc(1, sizeof *p);
  if (!p) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  p->fd = fd;
  p->offset = offset;
  p->length = length;
  napi_value name;
  napi_create_string_utf8(env, "livesnap:punchHole", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[3], 1, &p->done);
  napi_create_async_work(env, NULL, name, execute, complete, p, &p->work);
  napi_queue_async_work(env, p->work);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "punchHole", NAPI_AUTO_LENGTH, punch_hole, NULL, &fn);
  napi_set_named_property(env, exports, "punchHole", fn);
  return exports;
}

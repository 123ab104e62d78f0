/* A C host for the enkf-wasm module, translated to C by wasm2c (wabt 1.0.32 names: Z_enkfZ_<export>;
 * translate with `wasm2c enkf-scalar.wasm -n enkf -o module.c`). It provides the one import,
 * env.abort, and runs the commands given as arguments, one output line each:
 *
 *   selfcheck                          -> "selfCheck ok 0" or "selfCheck failed <code>"
 *   simd                               -> "simdEnabled <0|1>"
 *   randn N SEED DRAW MEMBER OFFSET    -> "randn <f64 bits as 16 hex digits> ..."
 *   solve N NRHS A(N*N values) B(N*NRHS values)
 *                                      -> "solve <cholesky status> <f64 bits of X> ..."
 *   cholesky0                          -> cholesky(n = 0): "abort <message> @ <file>:<line>:<column>"
 *   randnoob                           -> randn into a buffer past the end of memory: "abort ..."
 *
 * Values are parsed with strtod (JavaScript's shortest round-trip decimal parses back exactly).
 * A kernel that rejects its arguments calls env.abort; abort must not return into the module
 * (AssemblyScript follows the call with `unreachable`), so it records the message and leaves
 * through wasm_rt_trap, which longjmps back to the wasm_rt_impl_try() of the command. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enkf.h"   /* the ABI header (include/) */
#include "module.h" /* wasm2c's translation */
#include "wasm-rt-impl.h"

/* The env instance: the memory to read abort's strings from, and the last abort seen. */
struct Z_env_instance_t {
  wasm_rt_memory_t *memory;
  int aborted;
  char message[1024];
  char file[256];
  u32 line, column;
};

/* Appends code point c to out as UTF-8 (out has room for 4 more bytes and a NUL). */
static size_t put_utf8(char *out, size_t at, u32 c) {
  if (c < 0x80) {
    out[at++] = (char)c;
  } else if (c < 0x800) {
    out[at++] = (char)(0xC0 | (c >> 6));
    out[at++] = (char)(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out[at++] = (char)(0xE0 | (c >> 12));
    out[at++] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[at++] = (char)(0x80 | (c & 0x3F));
  } else {
    out[at++] = (char)(0xF0 | (c >> 18));
    out[at++] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[at++] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[at++] = (char)(0x80 | (c & 0x3F));
  }
  return at;
}

/* An AssemblyScript string at ptr: UTF-16LE code units, their byte length in the u32 at ptr − 4.
 * Decoded to UTF-8 into out (cap bytes); ptr 0 (no string) gives "". */
static void read_string(const wasm_rt_memory_t *m, u32 ptr, char *out, size_t cap) {
  size_t at = 0;
  out[0] = '\0';
  if (ptr < 4 || ptr > m->size) return;
  u32 bytes;
  memcpy(&bytes, m->data + ptr - 4, 4);
  if (bytes > m->size - ptr) return;
  for (u32 i = 0; i + 1 < bytes && at + 5 < cap; i += 2) {
    u32 c = (u32)m->data[ptr + i] | ((u32)m->data[ptr + i + 1] << 8);
    if (c >= 0xD800 && c < 0xDC00 && i + 3 < bytes) {
      u32 lo = (u32)m->data[ptr + i + 2] | ((u32)m->data[ptr + i + 3] << 8);
      if (lo >= 0xDC00 && lo < 0xE000) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        i += 2;
      }
    }
    at = put_utf8(out, at, c);
  }
  out[at] = '\0';
}

/* The import env.abort(message, fileName, line, column): records, then traps out of the module. */
void Z_envZ_abort(struct Z_env_instance_t *env, u32 msg, u32 file, u32 line, u32 column) {
  env->aborted = 1;
  read_string(env->memory, msg, env->message, sizeof env->message);
  read_string(env->memory, file, env->file, sizeof env->file);
  env->line = line;
  env->column = column;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

static Z_enkf_instance_t enkf;
static struct Z_env_instance_t env;

static u8 *mem(u32 ptr) { return Z_enkfZ_memory(&enkf)->data + ptr; }

static void put_f64(u32 ptr, double x) { memcpy(mem(ptr), &x, 8); }

static void print_bits(u32 ptr, int count) {
  for (int i = 0; i < count; i++) {
    uint64_t b;
    memcpy(&b, mem(ptr + 8u * (u32)i), 8);
    printf(" %016llx", (unsigned long long)b);
  }
}

/* Runs command argv[0] (with its arguments); returns how many arguments it took. */
static int run(char **argv, int argc) {
  const char *cmd = argv[0];
  if (strcmp(cmd, "selfcheck") == 0) {
    u32 code = Z_enkfZ_selfCheck(&enkf);
    printf("selfCheck %s %u", code == ENKF_SELF_CHECK_OK ? "ok" : "failed", code);
    return 1;
  }
  if (strcmp(cmd, "simd") == 0) {
    printf("simdEnabled %u", Z_enkfZ_simdEnabled(&enkf));
    return 1;
  }
  if (strcmp(cmd, "randn") == 0 && argc >= 6) {
    u32 n = (u32)strtoul(argv[1], NULL, 10);
    u32 out = Z_enkfZ_alloc(&enkf, 8 * n);
    Z_enkfZ_randn(&enkf, n, (u32)strtoul(argv[2], NULL, 10), (u32)strtoul(argv[3], NULL, 10),
                  (u32)strtoul(argv[4], NULL, 10), (u32)strtoul(argv[5], NULL, 10), out);
    printf("randn");
    print_bits(out, (int)n);
    Z_enkfZ_free(&enkf, out);
    return 6;
  }
  if (strcmp(cmd, "solve") == 0 && argc >= 3) {
    int n = atoi(argv[1]), nrhs = atoi(argv[2]);
    if (n < 1 || nrhs < 1 || argc < 3 + n * n + n * nrhs) return -1;
    /* A, L: f64 n×n; B: f64 n×nrhs, overwritten with X. */
    u32 A = Z_enkfZ_alloc(&enkf, 8u * (u32)(n * n));
    u32 L = Z_enkfZ_alloc(&enkf, 8u * (u32)(n * n));
    u32 B = Z_enkfZ_alloc(&enkf, 8u * (u32)(n * nrhs));
    for (int i = 0; i < n * n; i++) put_f64(A + 8u * (u32)i, strtod(argv[3 + i], NULL));
    for (int i = 0; i < n * nrhs; i++) put_f64(B + 8u * (u32)i, strtod(argv[3 + n * n + i], NULL));
    u32 status = Z_enkfZ_cholesky(&enkf, (u32)n, 0.0, A, L);
    if (status == 0) Z_enkfZ_cholSolve(&enkf, (u32)n, (u32)nrhs, L, B);
    printf("solve %u", status);
    print_bits(B, n * nrhs);
    Z_enkfZ_free(&enkf, B);
    Z_enkfZ_free(&enkf, L);
    Z_enkfZ_free(&enkf, A);
    return 3 + n * n + n * nrhs;
  }
  if (strcmp(cmd, "cholesky0") == 0) {
    Z_enkfZ_cholesky(&enkf, 0, 0.0, 0, 0);
    printf("returned");
    return 1;
  }
  if (strcmp(cmd, "randnoob") == 0) {
    u32 end = Z_enkfZ_memory(&enkf)->size;
    Z_enkfZ_randn(&enkf, 4, 1, 1, 1, 0, end - 16);
    printf("returned");
    return 1;
  }
  return -1;
}

int main(int argc, char **argv) {
  wasm_rt_init();
  Z_enkf_init_module();
  Z_enkf_instantiate(&enkf, &env);
  env.memory = Z_enkfZ_memory(&enkf);
  if (env.memory->pages != ENKF_MEMORY_INITIAL_PAGES) {
    fprintf(stderr, "harness: memory starts at %u pages, enkf.h says %d\n", env.memory->pages, ENKF_MEMORY_INITIAL_PAGES);
    return 3;
  }
  for (int i = 1; i < argc;) {
    env.aborted = 0;
    int used = 0;
    wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
    if (trap == WASM_RT_TRAP_NONE) {
      used = run(argv + i, argc - i);
      if (used < 0) {
        fprintf(stderr, "harness: unknown command or missing arguments at '%s'\n", argv[i]);
        return 2;
      }
    } else if (env.aborted) {
      printf("abort %s @ %s:%u:%u", env.message, env.file, env.line, env.column);
      used = 1; /* only the argument-less bad-argument commands can abort */
    } else {
      printf("trap %s", wasm_rt_strerror(trap));
      used = 1;
    }
    printf("\n");
    i += used;
  }
  Z_enkf_free(&enkf);
  wasm_rt_free();
  return 0;
}

/* insn_count: a QEMU TCG plugin (host shared library) that counts the guest instructions a
 * program executes, over all its threads, and prints the total when the guest exits.
 *
 *   qemu-aarch64 -plugin path/libedge_insn_count.so[,out=OUT] PROGRAM ARGS...
 *
 * Output: one line "insns N" appended to OUT (or written to stderr without out=). Not
 * "file=": qemu's -plugin option reserves that key for the plugin's own path.
 *
 * How it counts: at translation each block registers an exec callback whose user data is the
 * block's instruction count; each execution adds it to one global counter with an atomic add,
 * so all vCPU threads of a multi-threaded guest are counted without races. A block counts in
 * full when it starts; a block left in the middle (a guest fault delivered as a signal) would
 * be over-counted by its tail, which does not happen on the paths measured here (user mode,
 * system calls end their block). The same plugin serves every guest architecture, so amd64
 * and aarch64 figures taken with it compare like with like.
 *
 * Used by scripts/bench-footprint.sh (parts cpu and cpu-qemu) and tested by insn_count_test.sh. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "qemu_plugin_abi.h"

EDGE_QEMU_PLUGIN_EXPORT int qemu_plugin_version = EDGE_QEMU_PLUGIN_API_VERSION;

static uint64_t total_insns;  /* atomically updated from every vCPU thread */
static char out_path[4096];   /* empty: stderr */

static void on_tb_exec(unsigned int vcpu_index, void* udata) {
  (void)vcpu_index;
  __atomic_fetch_add(&total_insns, (uint64_t)(uintptr_t)udata, __ATOMIC_RELAXED);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                       (void*)(uintptr_t)n);
}

static void on_exit(qemu_plugin_id_t id, void* udata) {
  (void)id;
  (void)udata;
  uint64_t n = __atomic_load_n(&total_insns, __ATOMIC_SEQ_CST);
  if (out_path[0] == '\0') {
    fprintf(stderr, "insns %llu\n", (unsigned long long)n);
    return;
  }
  FILE* f = fopen(out_path, "a");
  if (f == NULL) {
    fprintf(stderr, "insn_count: cannot open %s; insns %llu\n", out_path, (unsigned long long)n);
    return;
  }
  fprintf(f, "insns %llu\n", (unsigned long long)n);
  fclose(f);
}

EDGE_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                int argc, char** argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "out=", 4) == 0 && strlen(argv[i] + 4) < sizeof(out_path)) {
      strcpy(out_path, argv[i] + 4);
    } else {
      fprintf(stderr, "insn_count: unknown or too long argument '%s' (expected out=PATH)\n",
              argv[i]);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
  qemu_plugin_register_atexit_cb(id, on_exit, NULL);
  return 0;
}

/* The few declarations of QEMU's TCG plugin API that insn_count.c uses, written by hand from
 * QEMU's documented plugin API (docs/devel/tcg-plugins.rst, "Plugin API"). QEMU's own
 * qemu-plugin.h is not packaged by Debian and is deliberately not copied here.
 *
 * Target ABI: QEMU 7.2 (Debian bookworm's qemu-user 1:7.2+dfsg), whose plugin API version is 1
 * (QEMU_PLUGIN_VERSION 1 in 7.2; version 2 arrived with 8.2). QEMU refuses a plugin whose
 * exported `qemu_plugin_version` is outside [QEMU_PLUGIN_MIN_VERSION, QEMU_PLUGIN_VERSION] of
 * the running binary, so a QEMU with an incompatible API fails loudly at load, not silently.
 * Every function used below exists unchanged (name, arguments) from API version 0 through at
 * least 8.x. The functions are resolved at load time from the qemu binary itself. */
#ifndef EDGE_QEMU_PLUGIN_ABI_H
#define EDGE_QEMU_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_QEMU_PLUGIN_API_VERSION 1

#define EDGE_QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;

/* Opaque to plugins that, like this one, do not look inside. */
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;

/* enum qemu_plugin_cb_flags: whether a callback reads or writes guest registers. */
enum qemu_plugin_cb_flags {
  QEMU_PLUGIN_CB_NO_REGS,
  QEMU_PLUGIN_CB_R_REGS,
  QEMU_PLUGIN_CB_RW_REGS,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);

/* Called whenever QEMU translates a block of guest code. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
/* Number of guest instructions in a translated block. */
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
/* Called every time the translated block starts executing, on the executing vCPU's thread. */
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb* tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void* userdata);
/* Called once when the guest exits (user mode: exit/exit_group). */
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void* userdata);

#endif

/* Guest program for insn_count_test.sh: runs a loop of argv[1] iterations whose body the
 * compiler cannot remove, in argv[2] threads (each thread runs the loop), so the executed
 * instruction count is a fixed start-up cost plus a constant times iterations x threads.
 * One thread: the loop runs on the main thread, no thread is created, and the count is exact
 * (creating and joining threads takes a scheduling-dependent few instructions more or less). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long iterations;

static void* run_loop(void* arg) {
  (void)arg;
  volatile unsigned long sink = 0;
  for (long i = 0; i < iterations; i++) sink = sink * 31 + (unsigned long)i;
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: count_loop ITERATIONS THREADS\n");
    return 2;
  }
  iterations = atol(argv[1]);
  int threads = atoi(argv[2]);
  if (iterations < 0 || threads < 1 || threads > 16) {
    fprintf(stderr, "count_loop: ITERATIONS >= 0 and 1 <= THREADS <= 16\n");
    return 2;
  }
  if (threads == 1) {
    run_loop(NULL);
    return 0;
  }
  pthread_t t[16];
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&t[i], NULL, run_loop, NULL) != 0) return 1;
  }
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return 0;
}

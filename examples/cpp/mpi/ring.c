/*
 * ring.c - the MPI program the example framework runs: a token ring and an
 * MPI_Allreduce across every rank, with a checksum that depends only on N.
 *
 * Usage: ring [sleep_seconds [fail_rank [exit|abort|segv]]]
 *   sleep_seconds  every rank sleeps this long after MPI_Init (default 0);
 *                  lets a test kill a proxy/rank while the job is running.
 *   fail_rank      if >= 0, that rank fails after the sleep (simulated crash):
 *                  exit  (default) _exit(3) without MPI_Finalize
 *                  abort MPI_Abort(MPI_COMM_WORLD, 4)
 *                  segv  raise(SIGSEGV)
 *   Env RING_VERBOSE=1: every rank prints "rank r/N pid=... ppid=... cwd=..." to stderr.
 *
 * Ring: rank 0 sends token 0 to rank 1; every rank adds (rank+1) and passes
 *   it on; rank 0 receives it back from rank N-1 and adds 1 itself.
 *   Expected ring token T = 1+2+...+N = N(N+1)/2.
 * Allreduce: MPI_SUM of (rank+1)^2 -> S = N(N+1)(2N+1)/6, checked on all ranks.
 * Checksum printed by rank 0: T + S = N(N+1)(N+2)/3
 *   (N=1 -> 2, N=2 -> 8, N=3 -> 20, N=4 -> 40, N=8 -> 240).
 * Output (rank 0 only, stdout): "ring ok: ranks=N checksum=C"
 * Exit status: 0 on success; on any mismatch the detecting rank prints
 *   "ring FAIL: ..." to stderr and calls MPI_Abort(MPI_COMM_WORLD, 2).
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(const char *what, long long got, long long want, int rank) {
  fprintf(stderr, "ring FAIL: rank %d: %s got=%lld want=%lld\n", rank, what, got, want);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 2);
  exit(2); /* not reached */
}

int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  int sleep_s = argc > 1 ? atoi(argv[1]) : 0;
  int fail_rank = argc > 2 ? atoi(argv[2]) : -1;
  const char *verbose = getenv("RING_VERBOSE");
  if (verbose && verbose[0] == '1') {
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    fprintf(stderr, "rank %d/%d pid=%d ppid=%d cwd=%s\n", rank, size, (int)getpid(), (int)getppid(),
            cwd);
    fflush(stderr);
  }
  if (sleep_s > 0) sleep((unsigned)sleep_s);
  if (rank == fail_rank) {
    const char *mode = argc > 3 ? argv[3] : "exit";
    fprintf(stderr, "rank %d: simulated failure (%s)\n", rank, mode);
    fflush(stderr);
    if (!strcmp(mode, "abort")) MPI_Abort(MPI_COMM_WORLD, 4);
    if (!strcmp(mode, "segv")) raise(SIGSEGV);
    _exit(3);
  }

  long long n = size;
  long long token = 0;
  if (size == 1) {
    token = 1;
  } else if (rank == 0) {
    MPI_Send(&token, 1, MPI_LONG_LONG, 1, 42, MPI_COMM_WORLD);
    MPI_Recv(&token, 1, MPI_LONG_LONG, size - 1, 42, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    token += 1;
  } else {
    MPI_Recv(&token, 1, MPI_LONG_LONG, rank - 1, 42, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    /* token received at rank r (r>=1) must be 2+...+r = r(r+1)/2 - 1 */
    long long want_in = (long long)rank * (rank + 1) / 2 - 1;
    if (token != want_in) fail("ring token in", token, want_in, rank);
    token += rank + 1;
    MPI_Send(&token, 1, MPI_LONG_LONG, (rank + 1) % size, 42, MPI_COMM_WORLD);
  }

  long long mine = (long long)(rank + 1) * (rank + 1), sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  long long want_s = n * (n + 1) * (2 * n + 1) / 6;
  if (sum != want_s) fail("allreduce sum", sum, want_s, rank);

  if (rank == 0) {
    long long want_t = n * (n + 1) / 2;
    if (token != want_t) fail("ring token", token, want_t, rank);
    long long checksum = token + sum;
    long long want_c = n * (n + 1) * (n + 2) / 3;
    if (checksum != want_c) fail("checksum", checksum, want_c, rank);
    printf("ring ok: ranks=%lld checksum=%lld\n", n, checksum);
    fflush(stdout);
  }
  MPI_Finalize();
  return 0;
}

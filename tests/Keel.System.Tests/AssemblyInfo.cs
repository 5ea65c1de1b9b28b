using Xunit.Sdk;
using Xunit.v3;

// Every test boots a machine under QEMU's software emulation, which takes a whole core; running them side
// by side on a small CI machine only makes each slower and pushes them toward their timeouts.
[assembly: Parallelization(Mode = ParallelMode.None)]

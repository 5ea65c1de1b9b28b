using System.Text.RegularExpressions;
using Keel.Testing.Qemu;
using Xunit;
using static Keel.System.Tests.SerialContract;

namespace Keel.System.Tests;

/// <summary>
/// Domains: the kernel builds a PV64 guest from a boot module, runs it in ring 3 on Xen's ABI, and ends it
/// alone when it shuts down or faults, getting back every frame it gave it.
/// </summary>
public sealed class DomainTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public Task A_guest_the_control_domain_builds_gets_Xens_start_info_and_version_hypercall_errors_and_powers_off_with_every_frame_returned() =>
        Machine.BootAsync(Machine.Image("keel-guest-hello.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            Assert.Equal(32, Number(built.Groups["mib"]));
            var startInfo = await qemu.WaitForLineAsync(GuestLine("hello", @"start_info: magic (?<magic>\S+), (?<pages>\d+) pages, (?<tables>\d+) page-table frames, flags (?<flags>0x[0-9a-f]+)"), LineTimeout, cancel);
            Assert.Equal("xen-3.0-x86_64", startInfo.Match.Groups["magic"].Value);
            Assert.Equal(16 * 256, Number(startInfo.Match.Groups["pages"]));
            // One L4, L3 and L2 and the L1s for the initial mapping (4 MiB: two L1s).
            Assert.Equal(5, Number(startInfo.Match.Groups["tables"]));
            // Neither SIF_PRIVILEGED nor SIF_INITDOMAIN: only the control domain has them.
            Assert.Equal(0UL, Hex(startInfo.Match.Groups["flags"]));
            await qemu.WaitForLineAsync(GuestLine("hello", @"xen_version: 4\.17\.0-keel"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("hello", "console_io with a kernel pointer: -14"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("hello", "console_io with an unmapped pointer: -14"), LineTimeout, cancel);
            // CONSOLEIO_read is the control domain's alone: -EPERM.
            await qemu.WaitForLineAsync(GuestLine("hello", "console_io read: -1"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("hello", "hypercall 99: -38"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("hello", "yield: 0"), LineTimeout, cancel);
            var shutdown = (await qemu.WaitForLineAsync(DomainShutDown(), LineTimeout, cancel)).Match;
            Assert.Equal("hello", shutdown.Groups["name"].Value);
            Assert.Equal("poweroff", shutdown.Groups["reason"].Value);
            await qemu.WaitForLineAsync(GuestLine("dom0", @"control: hello \(domain 1\) ended: poweroff"), LineTimeout, cancel);
            // Drained by the control domain's console back-end before it reports the end.
            Assert.Contains("(hello) through the console ring", qemu.Lines);
            await ExpectCleanEndAsync(qemu, built, cancel);
            // Its line may come after the guest's first lines: the guest runs as soon as it is unpaused.
            Assert.Contains("(dom0) control: started hello as domain 1", qemu.Lines);
        });

    /// <summary>The control domain powers off once its guests have, giving back every frame the machine had before it was built.</summary>
    private static async Task ExpectCleanEndAsync(Keel.Testing.Qemu.QemuMachine qemu, Match built, CancellationToken cancel)
    {
        await qemu.WaitForLineAsync(GuestLine("dom0", "control: every domain powered off; shutting down"), LineTimeout, cancel);
        var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
        Assert.Equal(0, Number(after.Groups["alive"]));
        Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
        Assert.Equal(CleanShutdownExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
    }

    [Theory]
    [InlineData("keel-guest-divide.img", "divide", "#DE divide error", 0)]
    [InlineData("keel-guest-pagefault.img", "page", "#PF page fault", 14)]
    [InlineData("keel-guest-opcode.img", "opcode", "#UD invalid opcode", 6)]
    public Task A_guest_that_faults_without_a_handler_is_crashed_alone_with_a_report_while_another_powers_off(string image, string kind, string exception, int vector) =>
        Machine.BootAsync(Machine.Image(image), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            await qemu.WaitForLineAsync(GuestLine("faulty", $@"test domain: faulting on purpose \({kind}\)"), LineTimeout, cancel);
            var crash = await qemu.WaitForLineAsync(DomainCrashed(), LineTimeout, cancel);
            Assert.Equal("faulty", crash.Match.Groups["name"].Value);
            await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel);
            // The report's lines lie between the crash line and the frame count, in any order.
            var report = qemu.Lines.Skip(crash.Number).ToList();
            var line = Assert.Single(report, l => GuestException().IsMatch(l));
            var match = GuestException().Match(line);
            Assert.Equal(exception, match.Groups["name"].Value);
            Assert.Equal(vector, int.Parse(match.Groups["vector"].Value));
            Assert.Contains(report, l => l.StartsWith("rip 0xffffffff8", StringComparison.Ordinal) && l.EndsWith("in guest kernel mode", StringComparison.Ordinal));
            Assert.Contains(report, l => FaultBytes().IsMatch(l) && !l.Contains("not mapped"));
            if (vector == 14) Assert.Contains(report, l => l.StartsWith("cr2 0x0000000000001000", StringComparison.Ordinal));

            // The other guest runs on and powers off; the control domain sees why the first one ended. The two
            // domains run side by side, so the control domain may report the crash before or after the
            // bystander's last line: only the shutdown comes last for certain.
            await qemu.WaitForLineAsync(GuestLine("dom0", "control: a domain did not power off; shutting down with reason crash"), LineTimeout, cancel);
            Assert.Contains(qemu.Lines, l => GuestLine("bystander", "test domain: powering off").IsMatch(l));
            Assert.Contains(qemu.Lines, l => GuestLine("dom0", $@"control: faulty \(domain \d+\) ended: crash: an exception the guest has no handler for: {Regex.Escape(exception)} at rip 0xffffffff8[0-9a-f]+").IsMatch(l));
            Assert.Contains(qemu.Lines, l => GuestLine("dom0", @"control: bystander \(domain \d+\) ended: poweroff").IsMatch(l));
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(DomainFailureExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("still running after the fault", StringComparison.Ordinal));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
        });

    [Fact]
    public Task A_trap_whose_bounce_frame_cannot_be_written_crashes_that_guest_alone() =>
        Machine.BootAsync(Machine.Image("keel-guest-bounce.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            var crash = (await qemu.WaitForLineAsync(DomainCrashed(), LineTimeout, cancel)).Match;
            Assert.Equal("faulty", crash.Groups["name"].Value);
            Assert.StartsWith("a fault while delivering an exception", crash.Groups["why"].Value);
            var after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), TimeSpan.FromSeconds(60), cancel)).Match;
            while (Number(after.Groups["alive"]) != 0) after = (await qemu.WaitForLineAsync(FramesAfterDomainEnded(), LineTimeout, cancel)).Match;
            // The bystander and the control domain run side by side: their lines come in either order.
            Assert.Contains(qemu.Lines, l => GuestLine("bystander", "test domain: powering off").IsMatch(l));
            Assert.Contains(qemu.Lines, l => GuestLine("dom0", @"control: faulty \(domain \d+\) ended: crash: a fault while delivering an exception.*#UD invalid opcode at rip 0x[0-9a-f]+").IsMatch(l));
            Assert.Equal(Number(built.Groups["before"]), Number(after.Groups["free"]));
            Assert.Equal(DomainFailureExitStatus, await qemu.WaitForExitAsync(ExitTimeout, cancel));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
        });

    [Fact]
    public Task A_guest_with_its_own_trap_table_gets_each_trap_bounced_with_Xens_frame_and_irets_back_and_visits_user_mode() =>
        Machine.BootAsync(Machine.Image("keel-guest-traps.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            // Each probe faults (or traps) once and the handler makes it return: vector and error code as
            // the guest must see them (page-fault error codes with the user bit cleared: guest kernel mode).
            // shared_info, mapped by the guest itself with update_va_mapping, is where it reads CR2.
            await qemu.WaitForLineAsync(GuestLine("traps", "shared_info mapped: 0"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("traps", "set_trap_table: 0"), LineTimeout, cancel);
            (string Probe, int Vector, int Error, string Cr2)[] expected =
            [
                ("int3", 3, 0, ""), ("int 0x80", 128, 0, ""), ("ud2", 6, 0, ""), ("divide by zero", 0, 0, ""),
                ("write to unmapped 0x1000", 14, 2, " cr2 0x0000000000001000"),
                ("read of kernel memory", 14, 1, " cr2 0xffff82d080200000"),
                ("write to the read-only M2P", 14, 3, " cr2 0xffff800000000000"),
                ("cli", 13, 0, ""), ("hlt", 13, 0, ""), ("out", 13, 0, ""), ("wrmsr", 13, 0, ""), ("mov to cr3", 13, 0, ""), ("lgdt", 13, 0, ""),
            ];
            foreach (var (probe, vector, error, cr2) in expected)
            {
                await qemu.WaitForLineAsync(GuestLine("traps", $"trap: {Regex.Escape(probe)}: vector {vector} error 0x{error:x16}{cr2}"), LineTimeout, cancel);
            }
            await qemu.WaitForLineAsync(GuestLine("traps", @"mov from cr3: 0x[0-9a-f]+ \(the L4's machine address\)"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("traps", "forced cpuid 0x40000000: XenVMMXenVMM, max leaf 0x0000000040000002"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("traps", "user mode: system call with rax 0x00000000000005ec from cs 0x000000000000e033 right after the user code's syscall"), LineTimeout, cancel);
            var shutdown = (await qemu.WaitForLineAsync(DomainShutDown(), LineTimeout, cancel)).Match;
            Assert.Equal("poweroff", shutdown.Groups["reason"].Value);
            await ExpectCleanEndAsync(qemu, built, cancel);
        });

    [Fact]
    public Task A_guest_changes_its_own_mappings_through_direct_paging_and_gets_Xens_errors_for_what_the_rules_refuse() =>
        Machine.BootAsync(Machine.Image("keel-guest-paging.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            (string What, int Result)[] expected =
            [
                ("update_va_mapping alias of start_info", 0), ("mmu_update the alias writable", 0), ("mmu_update MACHPHYS of an own frame", 0),
                ("map its own L4 writable", -16), ("map a frame it does not own", -16), ("a large-page entry", -22),
                ("write L4 slot 256", -22), ("update_va_mapping of a non-canonical address", -22), ("NEW_BASEPTR to a data page", -22),
                ("pin its L4 a second time", -22), ("mmu_update with a kernel pointer", -14), ("TLB_FLUSH_LOCAL", 0),
            ];
            foreach (var (what, result) in expected)
            {
                await qemu.WaitForLineAsync(GuestLine("paging", $@"paging: {Regex.Escape(what)}: {result}( \(.*\))?"), LineTimeout, cancel);
            }
            Assert.Contains(qemu.Lines, l => l.EndsWith("alias of start_info: 0 (reads the same)", StringComparison.Ordinal));
            var shutdown = (await qemu.WaitForLineAsync(DomainShutDown(), LineTimeout, cancel)).Match;
            Assert.Equal("poweroff", shutdown.Groups["reason"].Value);
            await ExpectCleanEndAsync(qemu, built, cancel);
        });

    [Fact]
    public Task A_guest_reads_system_and_wall_clock_time_from_shared_info_sleeps_by_poll_and_wakes_from_its_timer() =>
        Machine.BootAsync(Machine.Image("keel-guest-time.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            foreach (var line in new[]
            {
                "shared_info mapped: 0", "time: system time advances", "time: wall clock is plausible",
                "time: poll for 50 ms returned 0 after at least 50 ms", "time: poll with a past timeout returned 0",
                "time: set_timer_op woke block after at least 30 ms",
            })
            {
                await qemu.WaitForLineAsync(GuestLine("time", Regex.Escape(line)), LineTimeout, cancel);
            }
            await qemu.WaitForLineAsync(GuestLine("time", @"time: virtual time stood still while blocked \(ran \d+ us of \d+ us\)"), LineTimeout, cancel);
            Assert.Equal("poweroff", (await qemu.WaitForLineAsync(DomainShutDown(), LineTimeout, cancel)).Match.Groups["reason"].Value);
            await ExpectCleanEndAsync(qemu, built, cancel);
        });

    [Fact]
    public Task A_guest_gets_Xens_answers_from_memory_op_multicall_vm_assist_set_segment_base_and_fpu_taskswitch_even_for_hostile_arguments() =>
        Machine.BootAsync(Machine.Image("keel-guest-hypercalls.img"), async (qemu, cancel) =>
        {
            var memory = (await qemu.WaitForLineAsync(Memory(), BootTimeout, cancel)).Match;
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            // 16 MiB is 4096 pages, and shared_info and the first frame of its grant table are the domain's too:
            // its quota is 4098 frames, all in use.
            // It is domain 1 and unprivileged: the control domain's reservation is refused to it (-EPERM).
            var lines = new List<(string What, string Answer)>
            {
                ("shared_info mapped", "0"),
                ("current_reservation of DOMID_SELF", "4098"), ("maximum_reservation of DOMID_SELF", "4098"),
                ("current_reservation of domains 0 to 3", "-1 4098 -3 -3"), ("maximum_reservation of domain 0", "-1"),
                ("current_reservation of DOMID_IO", "-3"), ("current_reservation with a kernel pointer", "-14"),
                ("current_reservation with start_extent 1", "-22"),
            };
            foreach (var (what, answer) in lines) await ExpectAsync(qemu, what, answer, cancel);
            long maximumRamPage = Number((await qemu.WaitForLineAsync(GuestLine("hypercalls", @"hypercalls: maximum_ram_page: (?<frames>\d+)"), LineTimeout, cancel)).Match.Groups["frames"]);
            // One past the highest frame of RAM: at least what the memory map calls usable, at most the 256 MiB QEMU has.
            Assert.InRange(maximumRamPage, Number(memory.Groups["mib"]) * 256, 256 * 256);
            lines =
            [
                ("memory_op 9 (memory_map)", "-38"), ("memory_op 63", "-38"),
                // Reservation commands answer how many extents they did: 0 for a request Xen refuses.
                ("decrease_reservation of two unused frames", "2"), ("current_reservation after it", "4096"),
                ("populate_physmap of order 9", "0"), ("populate_physmap populate-on-demand", "0"),
                ("populate_physmap within 16 address bits", "0"), ("populate_physmap for domain 5, which does not exist", "0"),
                ("populate_physmap with its extent array in the M2P", "0"),
                ("populate_physmap of their pfns", "2 (the M2P maps the new frames to them)"), ("current_reservation after it", "4098"),
                ("populate_physmap beyond the quota", "0"), ("decrease_reservation of one unused frame twice", "1"),
                ("populate_physmap of its pfn again", "1"),
                ("decrease_reservation of a frame it does not own", "0"), ("decrease_reservation of a frame beyond memory", "0"),
                ("decrease_reservation of order 1", "0"), ("decrease_reservation of more extents than Xen takes", "0"),
                ("decrease_reservation starting at extent 1 of 1", "1"), ("decrease_reservation with an unmapped extent array", "0"),
                ("decrease_reservation with a kernel pointer", "0"), ("current_reservation after the refusals", "4098"),
                // Frames still in use count as given back and live on until the domain lets go of them.
                ("decrease_reservation of its L4 and an L1, both in use", "2 (still running on them)"),
                ("decrease_reservation of the frame its stack is in", "1 (the stack still works)"),
                ("decrease_reservation of shared_info", "1 (still mapped, upcall mask 1)"),
                ("decrease_reservation of its L4 again", "1"), ("current_reservation with those frames still in use", "4098"),
                ("multicall of console_io, xen_version, hypercall 99 and a nested multicall", "0 (results 0 262161 -38 -22)"),
                ("multicall of a yield and xen_version", "0 (results 0 262161)"),
                // The rest of the list waits for the vCPU to wake, then runs through a continuation.
                ("multicall of set_timer_op, block and xen_version", "0 (results 0 0 262161, after at least 30 ms)"),
                ("multicall of a kernel pointer", "-14"), ("multicall of an unmapped pointer", "-14"),
                ("multicall of a list in the M2P", "-14"), ("multicall of more entries than fit the address space", "-14"),
                ("multicall whose second entry is unmapped", "-14 (first result 262161)"),
                // XSA-213: iret ends the list; its result (the frame's rax, 0x1ae7) is the multicall's and its entry's.
                ("multicall of xen_version, iret and xen_version", "6887 (results 262161 6887, the entry after the iret untouched)"),
                ("multicall of 150 xen_version entries", "0 (150 results right)"),
                ("vm_assist enable writable_pagetables", "0"), ("vm_assist disable writable_pagetables", "0"),
                ("vm_assist enable m2p_strict", "0"), ("vm_assist enable type 6", "-22"), ("vm_assist enable type 31", "-22"),
                ("vm_assist enable type 64", "-22"), ("vm_assist command 2", "-38"),
                ("set_segment_base FS", "0 (fs:0 reads the variable)"), ("set_segment_base GS kernel", "0 (gs:0 reads the variable)"),
                ("set_segment_base GS user", "0 (gs:0 in kernel mode reads the variable)"),
                ("in guest user mode", "gs:0 reads the variable"),
                ("back in guest kernel mode", "gs:0 reads the variable, fs:0 reads the variable"),
                ("after sleeping 120 ms", "fs:0 reads the variable, gs:0 reads the variable, in user mode gs:0 reads the variable"),
                // MOV to FS made its base 0 (the flat descriptor's): address 0 is not mapped.
                ("after loading FS itself and sleeping, fs:0", "vector 14"),
                ("set_segment_base FS non-canonical", "-22"), ("set_segment_base GS user non-canonical", "-22"),
                ("set_segment_base GS kernel non-canonical", "-22"), ("set_segment_base register 4", "-22"),
                ("set_segment_base GS user selector 0x000000000000e02b", "0 (gs 0x000000000000e02b, gs:0 reads the variable)"),
                ("set_segment_base GS user selector 0x000000000000e028", "0 (gs 0x000000000000e02b, gs:0 reads the variable)"),
                ("set_segment_base GS user selector 0x000000000000e008", "0 (gs 0x0000000000000000, gs:0 reads the variable)"),
                ("set_segment_base GS user selector 0x0000000000000000", "0 (gs 0x0000000000000000, gs:0 reads the variable)"),
                ("fpu_taskswitch(1) then SSE", "vector 7"), ("SSE after the #NM", "no trap"),
                ("fpu_taskswitch(1), fpu_taskswitch(0) then SSE", "no trap"),
            ];
            foreach (var (what, answer) in lines) await ExpectAsync(qemu, what, answer, cancel);
            await qemu.WaitForLineAsync(GuestLine("hypercalls", "hypercalls: shutting down from inside a multicall"), LineTimeout, cancel);
            await qemu.WaitForLineAsync(GuestLine("hypercalls", "before"), LineTimeout, cancel);
            var shutdown = (await qemu.WaitForLineAsync(DomainShutDown(), LineTimeout, cancel)).Match;
            Assert.Equal("hypercalls", shutdown.Groups["name"].Value);
            Assert.Equal("poweroff", shutdown.Groups["reason"].Value);
            await qemu.WaitForLineAsync(GuestLine("dom0", @"control: hypercalls \(domain 1\) ended: poweroff"), LineTimeout, cancel);
            await ExpectCleanEndAsync(qemu, built, cancel);
            Assert.Contains("(hypercalls) mc", qemu.Lines);
            Assert.DoesNotContain("(hypercalls) after", qemu.Lines);
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("multicall returned after a shutdown", StringComparison.Ordinal));
            Assert.DoesNotContain(qemu.Lines, l => l.Contains("KERNEL FAULT", StringComparison.Ordinal));
        });

    private static Task ExpectAsync(QemuMachine qemu, string what, string answer, CancellationToken cancel) =>
        qemu.WaitForLineAsync(GuestLine("hypercalls", $"hypercalls: {Regex.Escape(what)}: {Regex.Escape(answer)}"), LineTimeout, cancel);

    [Fact]
    public Task A_guest_signals_itself_on_its_own_event_channels_polls_them_and_VIRQ_TIMER_ends_a_poll() =>
        Machine.BootAsync(Machine.Image("keel-guest-events.img"), async (qemu, cancel) =>
        {
            await qemu.WaitForLineAsync(Ready(), BootTimeout, cancel);
            var built = (await qemu.WaitForLineAsync(InitialDomainBuilt(), LineTimeout, cancel)).Match;
            // Of the 4095 usable ports, the builder took two (the console's and the store's) and the test one.
            (string Check, int Result)[] checks =
            [
                ("bind_ipi gives a port", 0), ("status of the IPI port", 5), ("send", 0), ("the port is pending", 0),
                ("poll on a pending port returns at once", 0), ("it did not wait", 0), ("a masked port still becomes pending", 0),
                ("unmask", 0), ("bind_virq VIRQ_TIMER gives a port", 0), ("bind_virq VIRQ_TIMER twice", -17),
                ("bind_virq VIRQ_DOM_EXC (the control domain's)", -1), ("poll on the timer port", 0),
                ("VIRQ_TIMER ended the poll after 30 ms, before the timeout", 0), ("close", 0), ("send on a closed port", -22),
                ("poll on a closed port", -22), ("poll on nothing, forever", -22), ("status of port 0", -22), ("ports exhausted after 4092 more", -28),
            ];
            foreach (var (check, result) in checks)
            {
                await qemu.WaitForLineAsync(GuestLine("events", $"events: {Regex.Escape(check)}: {result}"), LineTimeout, cancel);
            }
            await ExpectCleanEndAsync(qemu, built, cancel);
        });
}

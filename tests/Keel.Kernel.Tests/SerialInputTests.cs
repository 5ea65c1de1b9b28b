using FsCheck;
using FsCheck.Fluent;
using Keel.Kernel.Hypercalls;
using Keel.Kernel.Input;
using Keel.Ringlib.Xen;

namespace Keel.Kernel.Tests;

/// <summary>The serial input's receive ring (Xen's serial_rx_ring) and its Ctrl-A switch (Xen's serial_rx), xen/drivers/char/console.c.</summary>
public class SerialInputRingTests
{
    [Fact]
    public void Bytes_come_out_in_the_order_they_went_in_and_leave_only_when_consumed()
    {
        var ring = new SerialInputRing(8);
        foreach (byte b in "abc"u8) Assert.True(ring.TryPut(b));
        var into = new byte[8];
        Assert.Equal(3, ring.Peek(into));
        Assert.Equal("abc"u8.ToArray(), into[..3]);
        Assert.Equal(3, ring.Count);
        ring.Consume(2);
        Assert.Equal(1, ring.Peek(into));
        Assert.Equal((byte)'c', into[0]);
    }

    [Fact]
    public void A_full_ring_drops_new_bytes_and_counts_them_keeping_the_old_ones()
    {
        var ring = new SerialInputRing(4);
        for (byte b = 1; b <= 6; b++) ring.TryPut(b);
        Assert.Equal(4, ring.Count);
        Assert.Equal(2UL, ring.Dropped);
        var into = new byte[8];
        Assert.Equal(4, ring.Peek(into));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, into[..4]);
    }

    [Fact]
    public void An_empty_ring_gives_nothing_and_consuming_more_than_waits_takes_only_what_waits()
    {
        var ring = new SerialInputRing(4);
        Assert.Equal(0, ring.Peek(new byte[4]));
        ring.TryPut(7);
        ring.Consume(100);
        Assert.Equal(0, ring.Count);
        Assert.True(ring.TryPut(8));
        var into = new byte[1];
        ring.Peek(into);
        Assert.Equal(8, into[0]);
    }

    [Fact]
    public void A_capacity_that_is_not_a_power_of_two_falls_back_to_the_default()
    {
        Assert.Equal(SerialInputRing.DefaultCapacity, new SerialInputRing(1000).Capacity);
        Assert.Equal(1024, SerialInputRing.DefaultCapacity);
    }

    /// <summary>Against a queue with the same capacity: whatever the mix of puts and reads, across wrap-arounds of the counters' masks.</summary>
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Any_sequence_of_puts_and_reads_behaves_as_a_bounded_queue_that_drops_when_full() =>
        Prop.ForAll(Gen.ListOf(Gen.Choose(-20, 255)).ToArbitrary(), operations =>
        {
            var ring = new SerialInputRing(16);
            var model = new Queue<byte>();
            ulong dropped = 0;
            foreach (int op in operations)
            {
                if (op >= 0)
                {
                    bool fits = model.Count < 16;
                    if (fits) model.Enqueue((byte)op); else dropped++;
                    if (ring.TryPut((byte)op) != fits) return false;
                }
                else
                {
                    var into = new byte[-op];
                    int got = ring.Peek(into);
                    if (got != Math.Min(-op, model.Count)) return false;
                    for (int i = 0; i < got; i++) if (into[i] != model.Dequeue()) return false;
                    ring.Consume(got);
                }
            }
            return ring.Count == model.Count && ring.Dropped == dropped;
        });
}

public class InputSwitchTests
{
    private static (string Delivered, int Switches) Feed(InputSwitch input, string typed)
    {
        var delivered = new System.Text.StringBuilder();
        int switches = 0;
        Span<byte> deliver = stackalloc byte[InputSwitch.MaxDelivered];
        foreach (char c in typed)
        {
            int count = input.Accept((byte)c, deliver, out bool switched);
            if (switched) switches++;
            for (int i = 0; i < count; i++) delivered.Append((char)deliver[i]);
        }
        return (delivered.ToString(), switches);
    }

    [Fact]
    public void Input_starts_with_the_control_domain_as_Xen_leaves_it_with_dom0_at_the_end_of_boot()
    {
        Assert.Equal(InputTarget.ControlDomain, new InputSwitch().Target);
    }

    [Fact]
    public void Ordinary_bytes_pass_straight_through()
    {
        var input = new InputSwitch();
        Assert.Equal(("ls -l\r", 0), Feed(input, "ls -l\r"));
        Assert.Equal(InputTarget.ControlDomain, input.Target);
    }

    [Fact]
    public void Three_Ctrl_A_in_a_row_switch_to_the_kernel_and_three_more_switch_back_and_all_six_are_eaten()
    {
        var input = new InputSwitch();
        Assert.Equal(("", 1), Feed(input, "\x01\x01\x01"));
        Assert.Equal(InputTarget.Kernel, input.Target);
        Assert.Equal(("q", 0), Feed(input, "q"));
        Assert.Equal(("", 1), Feed(input, "\x01\x01\x01"));
        Assert.Equal(InputTarget.ControlDomain, input.Target);
    }

    [Theory]
    [InlineData("\x01x", "\x01x")]
    [InlineData("\x01\x01x", "\x01\x01x")]
    [InlineData("a\x01b\x01\x01c", "a\x01b\x01\x01c")]
    public void One_or_two_Ctrl_A_followed_by_another_byte_are_passed_on_before_it_without_switching(string typed, string delivered)
    {
        var input = new InputSwitch();
        Assert.Equal((delivered, 0), Feed(input, typed));
        Assert.Equal(InputTarget.ControlDomain, input.Target);
    }

    [Fact]
    public void Four_Ctrl_A_switch_once_and_hold_the_fourth_as_the_start_of_the_next_group()
    {
        var input = new InputSwitch();
        Assert.Equal(("", 1), Feed(input, "\x01\x01\x01\x01"));
        Assert.Equal(("\x01z", 0), Feed(input, "z"));
        Assert.Equal(InputTarget.Kernel, input.Target);
    }

    /// <summary>The switch changes nothing but where bytes go: removing every group of three Ctrl-A leaves the typed text delivered as it was.</summary>
    [FsCheck.Xunit.Property(MaxTest = 300)]
    public Property Whatever_is_typed_the_bytes_delivered_are_the_typed_ones_less_each_switching_triple() =>
        Prop.ForAll(Gen.ListOf(Gen.Elements('\x01', 'a', 'b')).ToArbitrary(), chars =>
        {
            string typed = new(chars.ToArray());
            var (delivered, switches) = Feed(new InputSwitch(), typed);
            // What is still held at the end (one or two Ctrl-A) has not been delivered yet.
            int trailing = typed.Length - typed.TrimEnd('\x01').Length;
            int held = trailing % 3;
            return delivered.Length + 3 * switches + held == typed.Length
                && delivered.Replace("\x01", "") == typed.Replace("\x01", "");
        });
}

/// <summary>CONSOLEIO_read's checks (do_console_io; xsm/dummy.h, xsm_console_io).</summary>
public class ConsoleReadRulesTests
{
    [Fact]
    public void Only_the_control_domain_may_read_the_serial_input_others_get_EPERM()
    {
        Assert.Equal(Errno.EPERM, ConsoleReadRules.Check(privileged: false, 16, out int length));
        Assert.Equal(0, length);
        Assert.Equal(0, ConsoleReadRules.Check(privileged: true, 16, out length));
        Assert.Equal(16, length);
    }

    [Theory]
    [InlineData(0x8000_0000UL)]
    [InlineData(0xFFFF_FFFFUL)]
    public void A_count_that_reads_as_a_negative_int_is_refused_with_E2BIG(ulong count)
    {
        Assert.Equal(Errno.E2BIG, ConsoleReadRules.Check(privileged: true, count, out _));
    }

    [Fact]
    public void Only_the_low_32_bits_of_the_count_register_are_the_count_as_Xens_unsigned_int_argument()
    {
        Assert.Equal(0, ConsoleReadRules.Check(privileged: true, 0x1_0000_0005UL, out int length));
        Assert.Equal(5, length);
    }
}

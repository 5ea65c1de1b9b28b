using System;
using System.Linq;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Keel.Guests.KvStore;
using Xunit;

namespace Keel.KvStore.Tests;

/// <summary>The sector format: records and the header written and read back, and what is refused.</summary>
public sealed class FormatTests
{
    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Record(ulong sequence, uint previous, KvOp op, string key, string value)
    {
        var sector = new byte[KvFormat.SectorBytes];
        Assert.True(KvFormat.TryEncode(sector, sequence, previous, op, Ascii(key), Ascii(value), out _));
        return sector;
    }

    [Property(MaxTest = 500)]
    public void A_record_decodes_to_what_was_encoded(NonEmptyString key, string value, ulong sequence, uint previous, bool delete)
    {
        byte[] keyBytes = Ascii(key.Get).Take(KvFormat.MaxKeyBytes).ToArray();
        byte[] valueBytes = delete ? [] : Ascii(value ?? "").Take(KvFormat.MaxValueBytes).ToArray();
        KvOp op = delete ? KvOp.Delete : KvOp.Put;
        var sector = new byte[KvFormat.SectorBytes];

        Assert.True(KvFormat.TryEncode(sector, sequence, previous, op, keyBytes, valueBytes, out uint checksum));
        Assert.True(KvFormat.TryDecode(sector, sequence, previous, out KvRecord record));
        Assert.Equal(op, record.Op);
        Assert.Equal(sequence, record.Sequence);
        Assert.Equal(keyBytes, record.Key.ToArray());
        Assert.Equal(valueBytes, record.Value.ToArray());
        Assert.Equal(checksum, record.Checksum);
        Assert.Equal(checksum, KvFormat.Checksum(sector));
    }

    [Property(MaxTest = 500)]
    public void Any_flipped_bit_makes_a_record_unreadable(PositiveInt bit)
    {
        byte[] sector = Record(7, 0x1234, KvOp.Put, "colour", "blue");
        int at = bit.Get % (KvFormat.SectorBytes * 8);
        sector[at / 8] ^= (byte)(1 << (at % 8));
        Assert.False(KvFormat.TryDecode(sector, 7, 0x1234, out _));
    }

    [Fact]
    public void A_torn_record_half_new_and_half_old_is_unreadable()
    {
        byte[] old = Record(3, 1, KvOp.Put, "n", "41");
        byte[] torn = Record(3, 1, KvOp.Put, "n", new string('4', 300));
        Array.Copy(old, 256, torn, 256, 256);
        Assert.False(KvFormat.TryDecode(torn, 3, 1, out _));
    }

    [Fact]
    public void A_record_is_refused_at_another_sequence_or_after_another_record()
    {
        byte[] sector = Record(5, 99, KvOp.Put, "k", "v");
        Assert.True(KvFormat.TryDecode(sector, 5, 99, out _));
        Assert.False(KvFormat.TryDecode(sector, 6, 99, out _));
        Assert.False(KvFormat.TryDecode(sector, 5, 98, out _));
    }

    [Theory]
    [InlineData(0, 0, false)]
    [InlineData(1, 0, true)]
    [InlineData(64, 400, true)]
    [InlineData(65, 0, false)]
    [InlineData(1, 401, false)]
    public void Keys_of_1_to_64_bytes_and_values_of_at_most_400_make_a_put_record(int keyLength, int valueLength, bool fits)
    {
        var sector = new byte[KvFormat.SectorBytes];
        sector.AsSpan().Fill(0xAA);
        bool encoded = KvFormat.TryEncode(sector, 0, 0, KvOp.Put, new byte[keyLength], new byte[valueLength], out _);
        Assert.Equal(fits, encoded);
        if (!fits) Assert.All(sector, b => Assert.Equal(0xAA, b));
    }

    [Fact]
    public void A_delete_record_carries_no_value()
    {
        var sector = new byte[KvFormat.SectorBytes];
        Assert.False(KvFormat.TryEncode(sector, 0, 0, KvOp.Delete, Ascii("k"), Ascii("v"), out _));
        Assert.True(KvFormat.TryEncode(sector, 0, 0, KvOp.Delete, Ascii("k"), [], out _));
    }

    [Fact]
    public void A_blank_sector_zero_is_blank_and_a_written_header_is_valid_with_its_checksum()
    {
        var sector = new byte[KvFormat.SectorBytes];
        Assert.Equal(KvHeaderState.Blank, KvFormat.ReadHeader(sector, out _));
        uint written = KvFormat.EncodeHeader(sector);
        Assert.Equal(KvHeaderState.Valid, KvFormat.ReadHeader(sector, out uint read));
        Assert.Equal(written, read);
        Assert.Equal("kvstore\0", Encoding.ASCII.GetString(sector, 0, 8));
    }

    [Fact]
    public void A_header_of_another_version_and_a_sector_of_other_data_are_told_apart()
    {
        var sector = new byte[KvFormat.SectorBytes];
        KvFormat.EncodeHeader(sector);
        sector[8] = 2;
        Assert.Equal(KvHeaderState.Foreign, KvFormat.ReadHeader(sector, out _));
        BitConverter.GetBytes(KvFormat.Checksum(sector)).CopyTo(sector, KvFormat.SectorBytes - 4);
        Assert.Equal(KvHeaderState.OtherVersion, KvFormat.ReadHeader(sector, out _));

        var boot = new byte[KvFormat.SectorBytes];
        boot[510] = 0x55;
        boot[511] = 0xAA;
        Assert.Equal(KvHeaderState.Foreign, KvFormat.ReadHeader(boot, out _));
    }
}

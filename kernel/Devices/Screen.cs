using System;
using Keel.Kernel.Arch.X64;
using Keel.Kernel.Boot;
using Keel.Kernel.Memory;
using Keel.Kernel.Text;

namespace Keel.Kernel.Devices
{
    /// <summary>
    /// The console on the display the loader left set up. An EGA text buffer (GRUB under a BIOS leaves 80x25
    /// at 0xB8000) takes a character and an attribute byte per cell. A 24- or 32-bit pixel framebuffer (UEFI
    /// GOP) gets 8x16 glyphs from the font module, drawn light grey on black: every colour channel gets the
    /// same value, so the channels' order in the pixel does not matter. Anything else gets no screen console;
    /// the serial port always carries everything.
    /// </summary>
    internal static unsafe class Screen
    {
        private const byte LightGreyOnBlack = 0x07;
        private const byte Foreground = 0xAA, Background = 0x00;
        private const int GlyphWidth = 8, GlyphHeight = 16, FontBytes = 128 * GlyphHeight;

        // VGA CRT controller (IBM VGA technical reference): index port 0x3D4, data 0x3D5; register 0x0A is
        // Cursor Start, whose bit 5 turns the blinking hardware cursor off.
        private static readonly Port CrtIndex = new Port(0x3D4), CrtData = new Port(0x3D5);

        private static TextGrid s_grid;
        private static byte* s_base;
        private static uint s_pitch;
        private static bool s_pixels;
        private static uint s_bytesPerPixel;
        private static byte[] s_font;

        internal static bool Active => s_grid != null;

        /// <summary>
        /// Starts the screen console if the display is one it can draw on. The font (128 glyphs of 16 bytes)
        /// is needed for pixel framebuffers only. The framebuffer must lie in the direct map's first 4 GiB.
        /// </summary>
        internal static void Initialize(in Framebuffer display, ReadOnlySpan<byte> font)
        {
            if (display.Address >= 0x1_0000_0000 || display.Width == 0 || display.Height == 0) return;
            s_base = DirectMap.Pointer(display.Address);
            s_pitch = display.Pitch;
            if (display.Kind == FramebufferKind.EgaText && display.Width <= 256 && display.Height <= 256)
            {
                s_grid = new TextGrid((int)display.Width, (int)display.Height);
                CrtIndex.Write8(0x0A);
                CrtData.Write8(0x20);
            }
            else if (display.Kind == FramebufferKind.Rgb && (display.BitsPerPixel == 24 || display.BitsPerPixel == 32) && font.Length == FontBytes &&
                     display.Width <= 8192 && display.Height <= 8192 && (ulong)display.Pitch * display.Height <= 0x1_0000_0000 - display.Address)
            {
                s_font = font.ToArray();
                s_pixels = true;
                s_bytesPerPixel = display.BitsPerPixel / 8u;
                s_grid = new TextGrid((int)display.Width / GlyphWidth, (int)display.Height / GlyphHeight);
            }
            else
            {
                return;
            }
            Redraw();
        }

        internal static void Put(char c)
        {
            if (s_grid == null) return;
            if (s_grid.Put(c, out int column, out int row)) Redraw();
            else if (column >= 0) Draw(column, row);
        }

        private static void Redraw()
        {
            for (int row = 0; row < s_grid.Rows; row++)
            {
                for (int column = 0; column < s_grid.Columns; column++) Draw(column, row);
            }
        }

        private static void Draw(int column, int row)
        {
            char c = s_grid[column, row];
            if (!s_pixels)
            {
                ((ushort*)(s_base + row * s_pitch))[column] = (ushort)(c | (LightGreyOnBlack << 8));
                return;
            }
            // Glyph rows are one byte each, most significant bit leftmost (the font module's layout).
            int glyph = (c & 0x7F) * GlyphHeight;
            for (int y = 0; y < GlyphHeight; y++)
            {
                byte bits = s_font[glyph + y];
                byte* pixel = s_base + (ulong)(row * GlyphHeight + y) * s_pitch + (ulong)(column * GlyphWidth) * s_bytesPerPixel;
                for (int x = 0; x < GlyphWidth; x++)
                {
                    byte value = (bits & (0x80 >> x)) != 0 ? Foreground : Background;
                    for (uint channel = 0; channel < s_bytesPerPixel; channel++) *pixel++ = value;
                }
            }
        }
    }
}

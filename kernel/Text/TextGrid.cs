using System;

namespace Keel.Kernel.Text
{
    /// <summary>
    /// A character grid with a cursor: text goes in left to right, "\n" starts a new row, a full row wraps,
    /// and when the cursor would leave the last row every row moves up one and the last is cleared.
    /// The grid does not know where its cells are: the caller draws each changed cell (and the whole grid
    /// after a scroll), so one grid serves an EGA text buffer and a pixel framebuffer alike.
    /// </summary>
    public sealed class TextGrid
    {
        private readonly char[] _cells;

        public TextGrid(int columns, int rows)
        {
            Columns = columns;
            Rows = rows;
            _cells = new char[columns * rows];
            _cells.AsSpan().Fill(' ');
        }

        public int Columns { get; }

        public int Rows { get; }

        public int Column { get; private set; }

        public int Row { get; private set; }

        public char this[int column, int row] => _cells[row * Columns + column];

        /// <summary>Adds a character; returns true when the grid scrolled (every cell may have changed).</summary>
        public bool Put(char c, out int changedColumn, out int changedRow)
        {
            changedColumn = -1;
            changedRow = -1;
            if (c == '\r') return false;
            bool scrolled = false;
            if (c == '\n')
            {
                Column = 0;
                return NextRow();
            }
            if (Column == Columns)
            {
                Column = 0;
                scrolled = NextRow();
            }
            _cells[Row * Columns + Column] = c < ' ' || c > '~' ? '?' : c;
            changedColumn = Column;
            changedRow = Row;
            Column++;
            return scrolled;
        }

        private bool NextRow()
        {
            if (Row + 1 < Rows)
            {
                Row++;
                return false;
            }
            _cells.AsSpan(Columns).CopyTo(_cells);
            _cells.AsSpan((Rows - 1) * Columns).Fill(' ');
            return true;
        }
    }
}

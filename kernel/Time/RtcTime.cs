namespace Keel.Kernel.Time
{
    /// <summary>The raw CMOS real-time-clock registers, as read (MC146818 data sheet; register B says the format).</summary>
    public struct RtcRegisters
    {
        public byte Seconds, Minutes, Hours, Day, Month, Year, Century, StatusB;
    }

    /// <summary>A calendar date and time of day (UTC: QEMU and most firmware keep the RTC in UTC).</summary>
    public struct DateTimeParts
    {
        public int Year, Month, Day, Hour, Minute, Second;

        /// <summary>
        /// Decodes RTC registers. Status B bit 2 set means binary values (else BCD); bit 1 set means a 24-hour
        /// clock (else 12-hour, with bit 7 of the hour as PM). A zero century register means "not provided",
        /// and the 21st century is assumed, as it is when the register reads as something no RTC holds (the
        /// century register's location comes from ACPI, and 0x32 is only the common choice). False if any
        /// field is out of range.
        /// </summary>
        public static bool TryDecode(RtcRegisters r, out DateTimeParts time)
        {
            bool binary = (r.StatusB & 0x04) != 0;
            bool twentyFourHour = (r.StatusB & 0x02) != 0;
            bool pm = (r.Hours & 0x80) != 0;
            time = default;
            time.Second = Value(r.Seconds, binary);
            time.Minute = Value(r.Minutes, binary);
            time.Hour = Value((byte)(r.Hours & 0x7F), binary);
            time.Day = Value(r.Day, binary);
            time.Month = Value(r.Month, binary);
            int century = Value(r.Century, binary);
            if (century < 19 || century > 29) century = 20;
            time.Year = century * 100 + Value(r.Year, binary);
            if (!twentyFourHour)
            {
                // 12-hour clock: 12 AM is hour 0, 12 PM is hour 12.
                time.Hour %= 12;
                if (pm) time.Hour += 12;
            }
            return time.Second < 60 && time.Minute < 60 && time.Hour < 24 &&
                   time.Day >= 1 && time.Day <= 31 && time.Month >= 1 && time.Month <= 12 && time.Year >= 1900;
        }

        /// <summary>
        /// Seconds since 1970-01-01 00:00:00 UTC (the Unix epoch Xen's wc_sec counts from), by the proleptic
        /// Gregorian calendar: days from the epoch to the first of the month by the civil-from-days
        /// arithmetic with March as the first month, so February's leap day falls at the end of a year.
        /// </summary>
        public readonly ulong ToUnixSeconds()
        {
            long y = Month <= 2 ? Year - 1 : Year;
            long era = y / 400;
            long yearOfEra = y - era * 400;
            long monthFromMarch = (Month + 9) % 12;
            long dayOfYear = (153 * monthFromMarch + 2) / 5 + Day - 1;
            long dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
            long days = era * 146097 + dayOfEra - 719468;
            return (ulong)(days * 86400 + Hour * 3600 + Minute * 60 + Second);
        }

        private static int Value(byte raw, bool binary) => binary ? raw : (raw >> 4) * 10 + (raw & 0x0F);
    }
}

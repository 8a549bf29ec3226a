/// Unit words dropped from answers: `5 cm` -> `5`, `9 square units` -> `9`, `3 dollars` -> `3`.
///
/// The harness's list comes from MathQA and holds single letters (`a`, `c`, `m`, `s`, `t`,
/// ...) and words such as `ratio` or `prime`, which also delete answers (`s` turns `2 s` into
/// `2`, but `t` turns `t+1` into `+1`). This list keeps the physical and counting units of
/// competition answers, each of at least two letters, so no variable is taken for a unit.
public enum UnitWords {
    public static let words: Set<String> = [
        // counting, angles
        "unit", "units", "degree", "degrees", "radian", "radians", "percent",
        // length, area and volume (`square` and `cubic` stand alone: `square units`, `sq ft`)
        "square", "sq", "cubic", "cu",
        "meter", "meters", "metre", "metres", "centimeter", "centimeters", "centimetre", "centimetres",
        "millimeter", "millimeters", "kilometer", "kilometers", "cm", "mm", "km",
        "inch", "inches", "foot", "feet", "ft", "yard", "yards", "yd", "mile", "miles",
        // money
        "dollar", "dollars", "cent", "cents",
        // time, speed
        "second", "seconds", "minute", "minutes", "hour", "hours", "hr", "hrs",
        "day", "days", "week", "weeks", "month", "months", "year", "years", "mph", "kmh", "kph",
        // mass, volume
        "gram", "grams", "kilogram", "kilograms", "kg", "pound", "pounds", "lb", "lbs",
        "ounce", "ounces", "oz", "ton", "tons", "liter", "liters", "litre", "litres", "ml",
        "gallon", "gallons",
    ]

    /// Every unit word that stands alone (not part of a longer word, not a command such as
    /// `\min`; a digit may touch it: `5cm`) removed, with a `^2` or `^3` right after it; the
    /// answer is left as it was when nothing else would be left.
    static func removed(from s: AnswerBytes) -> AnswerBytes {
        var out = AnswerBytes()
        out.reserveCapacity(s.count)
        var changed = false
        var i = 0
        while i < s.count {
            guard s[i].isLetter, NormalizationSteps.startsWord(s, i) else {
                out.append(s[i])
                i += 1
                continue
            }
            var end = i
            while end < s.count && s[end].isLetter { end += 1 }
            let wordEnd = end
            if end < s.count && s[end].isDigit {
                // `cm2` is not a unit word; copy the letters.
                out += s[i..<wordEnd]
                i = wordEnd
                continue
            }
            if words.contains(AnswerBytes(s[i..<wordEnd]).text) {
                for power in ["^2", "^3", "^{2}", "^{3}"] where s.has(AnswerBytes(text: power), at: end) {
                    end += power.utf8.count
                    break
                }
                changed = true
                i = end
                continue
            }
            out += s[i..<wordEnd]
            i = wordEnd
        }
        guard changed, !out.trimmed.isEmpty else { return s }
        return out
    }
}

/// A whole answer written in words as its digits (`twenty-one` -> `21`), as the harness's
/// `word2number` step; anything else is left alone.
enum NumberWords {
    static let units: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
        "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
        "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
        "seventy": 70, "eighty": 80, "ninety": 90,
    ]
    static let scales: [String: Int] = ["thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000]

    static func digits(for s: AnswerBytes) -> AnswerBytes {
        guard let first = s.first, first.isLetter, s.count <= 80,
              let value = value(of: s.lowercasedASCII.text) else { return s }
        return AnswerBytes(text: String(value))
    }

    static func value(of text: String) -> Int? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "-" }).map(String.init)
        guard !words.isEmpty else { return nil }
        var total = 0, current = 0, numberWords = 0
        for word in words {
            if let unit = units[word] {
                current += unit
            } else if word == "hundred" {
                current = max(current, 1) * 100
            } else if let scale = scales[word] {
                total += max(current, 1) * scale
                current = 0
            } else if word == "and" {
                continue
            } else {
                return nil
            }
            numberWords += 1
        }
        return numberWords > 0 ? total + current : nil
    }
}

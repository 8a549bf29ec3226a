import Foundation

/// Checks one parsed JSONL record and turns it into an `Example`, throwing a `DataError`
/// that says which field of which line is wrong and what was expected.
struct JSONRecordReader {
    let file: String
    let line: Int
    let vocabularySize: Int

    func example(from object: Any) throws -> Example {
        guard let record = object as? [String: Any] else {
            throw DataError(.wrongType, file: file, line: line,
                            message: "expected a JSON object with \"\(PretokenizedJSONL.idsField)\" and \"\(PretokenizedJSONL.maskField)\", found \(Self.describeKind(object))")
        }
        let tokens = try tokenIds(in: record)
        let mask = try lossMask(in: record)

        let maskField = PretokenizedJSONL.maskField
        guard mask.count == tokens.count else {
            throw DataError(.lengthMismatch, file: file, line: line, field: maskField,
                            message: "expected the same length as \"\(PretokenizedJSONL.idsField)\" (\(tokens.count)), found \(mask.count)")
        }
        guard tokens.count >= 2 else {
            throw DataError(.tooShort, file: file, line: line, field: PretokenizedJSONL.idsField,
                            message: "expected at least 2 tokens (the first token is never a prediction), found \(tokens.count)")
        }
        guard mask.dropFirst().contains(1) else {
            throw DataError(.noTrainedToken, file: file, line: line, field: maskField,
                            message: "expected at least one 1 after index 0 (index 0 is never trained), found none",
                            hint: "an example with no trained token adds nothing; drop it when making the file")
        }
        return Example(tokens: tokens, lossMask: mask)
    }

    private func array(_ field: String, in record: [String: Any]) throws -> [Any] {
        guard let value = record[field] else {
            throw DataError(.missingField, file: file, line: line, field: field,
                            message: "expected an array of integers, but the field is missing")
        }
        guard let array = value as? [Any] else {
            throw DataError(.wrongType, file: file, line: line, field: field,
                            message: "expected an array of integers, found \(Self.describeKind(value))")
        }
        return array
    }

    private func tokenIds(in record: [String: Any]) throws -> [Int32] {
        let field = PretokenizedJSONL.idsField
        let values = try array(field, in: record)
        var ids: [Int32] = []
        ids.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            let expectation = "expected integer token ids in 0..<\(vocabularySize)"
            switch Self.integer(value) {
            case .integer(let id) where id >= 0 && id < vocabularySize:
                ids.append(Int32(id))
            case .integer, .outOfRange:
                throw DataError(.idOutOfRange, file: file, line: line, field: field,
                                message: "\(expectation), found \(Self.describe(value)) at index \(index)",
                                hint: "the vocabulary size must match the tokenizer that made the file")
            case .notInteger:
                throw DataError(.nonIntegerId, file: file, line: line, field: field,
                                message: "\(expectation), found \(Self.describe(value)) at index \(index)")
            }
        }
        return ids
    }

    private func lossMask(in record: [String: Any]) throws -> [UInt8] {
        let field = PretokenizedJSONL.maskField
        let values = try array(field, in: record)
        var mask: [UInt8] = []
        mask.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            guard case .integer(let bit) = Self.integer(value), bit == 0 || bit == 1 else {
                throw DataError(.invalidLossMask, file: file, line: line, field: field,
                                message: "expected only 0 or 1, found \(Self.describe(value)) at index \(index)")
            }
            mask.append(UInt8(bit))
        }
        return mask
    }

    /// What a JSON value means as an integer.
    enum IntegerValue {
        case integer(Int)
        /// A whole number too large for `Int`.
        case outOfRange
        /// A fraction, a float literal, a boolean, a string, null, ...
        case notInteger
    }

    /// Only integer literals count: `1.0` is a float in JSON and is rejected, because a
    /// float where an id belongs usually means the file was written by the wrong pipeline.
    static func integer(_ value: Any) -> IntegerValue {
        guard let number = value as? NSNumber, !isBoolean(number) else { return .notInteger }
        let type = number.objCType.pointee
        let isFloat = type == CChar(UInt8(ascii: "d")) || type == CChar(UInt8(ascii: "f"))
        if !isFloat, let int = number as? Int { return .integer(int) }
        // Integer literals beyond Int64 arrive as floating or decimal numbers.
        let double = number.doubleValue
        if double.isFinite && double == double.rounded() && abs(double) >= 0x1p63 { return .outOfRange }
        return .notInteger
    }

    /// JSON true/false arrive as NSNumber too; Foundation marks them with the "c" (char) type
    /// on both Linux and Apple platforms.
    static func isBoolean(_ number: NSNumber) -> Bool {
        number.objCType.pointee == CChar(UInt8(ascii: "c"))
    }

    /// A JSON value as the user would recognise it in the file, shortened if long.
    static func describe(_ value: Any) -> String {
        if let number = value as? NSNumber {
            return isBoolean(number) ? (number.boolValue ? "true" : "false") : "\(number)"
        }
        if let string = value as? String {
            let shown = string.count > 20 ? String(string.prefix(20)) + "..." : string
            return "\"\(shown)\""
        }
        return describeKind(value)
    }

    /// The JSON kind of a value, for "expected X, found Y".
    static func describeKind(_ value: Any) -> String {
        switch value {
        case let number as NSNumber: return isBoolean(number) ? "a boolean" : "a number"
        case is String: return "a string"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case is NSNull: return "null"
        default: return "\(type(of: value))"
        }
    }
}

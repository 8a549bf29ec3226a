import Foundation

/// Files of this checkout that the tests read (fixtures, scripts, built-in resources), by their
/// path from the repository root.
enum RepositoryPaths {
    /// The checkout: three folders above this file (Tests/IntegrationTests/Support).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

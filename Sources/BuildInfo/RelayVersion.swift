/// The relay's version: the one place it is written. `gmail-relay --version`, the status page footer
/// and the `relay_build_info` gauge of /metrics all read it. Bump it when a release is tagged.
public enum RelayVersion {
    public static let version = "0.4.0"

    /// `relay_build_info{version="…"} 1`: the Prometheus convention for exporting a version as a label.
    public static let prometheusText = """
        # HELP relay_build_info The running gmail-relay's version (always 1).
        # TYPE relay_build_info gauge
        relay_build_info{version="\(version)"} 1

        """
}

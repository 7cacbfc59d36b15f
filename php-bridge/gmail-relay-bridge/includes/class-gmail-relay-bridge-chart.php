<?php
/**
 * The dashboard widget's chart: the relay's last 48 hours (GET /api/stats?hours=48) as inline SVG,
 * the same chart as the relay's status page.
 *
 * from_json() and svg() are pure (no WordPress function but __()); widget() fetches through the
 * status client's request(), the same wp_safe_remote_get() path with the same host and port
 * allowance and read token as /api/status, and caches the raw answer in a transient.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * Hourly sent / failed / held / accepted counts drawn as stacked bars.
 */
final class Gmail_Relay_Bridge_Chart {

	/** Transient holding the last answer of /api/stats. */
	const TRANSIENT = 'gmail_relay_bridge_stats';

	/** Seconds an answer is reused (the status snapshot's too). */
	const CACHE_SECONDS = 60;

	/** Hours the widget shows. */
	const HOURS = 48;

	/** The most buckets read from an answer (the relay serves at most 720). */
	const MAX_BUCKETS = 720;

	const WIDTH  = 480;
	const HEIGHT = 170;
	const LEFT   = 34;
	const RIGHT  = 6;
	const TOP    = 26;
	const BOTTOM = 20;

	/**
	 * @param string $base_url Status URL setting.
	 * @return string
	 */
	public static function stats_url( $base_url ) {
		return rtrim( (string) $base_url, '/' ) . '/api/stats?hours=' . self::HOURS;
	}

	/**
	 * The buckets of an /api/stats answer; null when it is not one. Each bucket is kept only with an
	 * on-the-hour UTC time and whole, non-negative counts; at most MAX_BUCKETS, the newest.
	 *
	 * @param string $body Response body.
	 * @return array<int,array{hour:int,sent:int,failed:int,held:int,queued:int}>|null
	 */
	public static function from_json( $body ) {
		$data = json_decode( (string) $body, true, 8 );
		if ( ! is_array( $data ) || ! isset( $data['buckets'] ) || ! is_array( $data['buckets'] ) ) {
			return null;
		}
		$buckets = array();
		foreach ( array_slice( $data['buckets'], -self::MAX_BUCKETS ) as $bucket ) {
			if ( ! is_array( $bucket ) || ! isset( $bucket['hour'] ) || ! is_string( $bucket['hour'] )
				|| ! preg_match( '/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):00:00Z$/', $bucket['hour'], $m ) ) {
				continue;
			}
			$hour = gmmktime( (int) $m[4], 0, 0, (int) $m[2], (int) $m[3], (int) $m[1] );
			$row  = array( 'hour' => $hour );
			foreach ( array( 'sent', 'failed', 'held', 'queued' ) as $key ) {
				$value       = isset( $bucket[ $key ] ) ? $bucket[ $key ] : 0;
				$row[ $key ] = is_int( $value ) && $value >= 0 ? min( $value, 1000000000 ) : 0;
			}
			$buckets[] = $row;
		}
		return $buckets;
	}

	/**
	 * The y-axis top: the largest bar rounded up to 1, 2 or 5 times a power of ten, at least 1.
	 *
	 * @param int $value Largest bar.
	 * @return int
	 */
	public static function axis_maximum( $value ) {
		if ( $value <= 1 ) {
			return 1;
		}
		$magnitude = 1;
		while ( $magnitude * 10 < $value ) {
			$magnitude *= 10;
		}
		foreach ( array( 1, 2, 5, 10 ) as $step ) {
			if ( $step * $magnitude >= $value ) {
				return $step * $magnitude;
			}
		}
		return 10 * $magnitude;
	}

	/**
	 * The chart: role="img" with a title and a description summing the period, a legend, failed
	 * hatched and held dotted (not told apart by colour alone), a tooltip per bar, and every number
	 * in a table for screen readers (WordPress's screen-reader-text class). Everything printed is escaped.
	 *
	 * @param array<int,array<string,int>> $buckets From from_json().
	 * @param string                       $id      Unique id prefix on the page.
	 * @param string                       $title   Chart title.
	 * @return string HTML.
	 */
	public static function svg( array $buckets, $id, $title ) {
		$e      = static function ( $text ) {
			return htmlspecialchars( (string) $text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8' );
		};
		$id     = preg_replace( '/[^a-z0-9_-]/i', '', (string) $id );
		$totals = array(
			'sent'   => 0,
			'failed' => 0,
			'held'   => 0,
			'queued' => 0,
		);
		$max    = 0;
		foreach ( $buckets as $b ) {
			foreach ( $totals as $key => $sum ) {
				$totals[ $key ] = $sum + $b[ $key ];
			}
			$max = max( $max, $b['sent'] + $b['failed'] + $b['held'] );
		}
		if ( array() === $buckets ) {
			$summary = __( 'No data.', 'gmail-relay-bridge' );
		} else {
			/* translators: 1: first hour, 2: last hour, 3: sent, 4: failed, 5: held, 6: accepted */
			$summary = sprintf( __( 'From %1$s to %2$s: %3$d sent, %4$d failed, %5$d held, %6$d accepted.', 'gmail-relay-bridge' ), self::hour_label( $buckets[0]['hour'] ), self::hour_label( $buckets[ count( $buckets ) - 1 ]['hour'] ), $totals['sent'], $totals['failed'], $totals['held'], $totals['queued'] );
		}
		$top         = self::axis_maximum( $max );
		$plot_width  = self::WIDTH - self::LEFT - self::RIGHT;
		$plot_height = self::HEIGHT - self::TOP - self::BOTTOM;
		$baseline    = self::TOP + $plot_height;
		$slot        = $plot_width / max( 1, count( $buckets ) );
		$bar_width   = max( 1, round( $slot * 0.8, 1 ) );

		$s  = '<svg xmlns="http://www.w3.org/2000/svg" class="gmail-relay-bridge-chart" id="' . $e( $id ) . '" viewBox="0 0 ' . self::WIDTH . ' ' . self::HEIGHT . '" role="img" aria-labelledby="' . $e( $id ) . '-title ' . $e( $id ) . '-desc" width="100%">';
		$s .= '<title id="' . $e( $id ) . '-title">' . $e( $title ) . '</title>';
		$s .= '<desc id="' . $e( $id ) . '-desc">' . $e( $summary ) . '</desc>';
		$s .= '<defs><pattern id="' . $e( $id ) . '-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#b42318"/><rect width="2" height="6" fill="#ffffff"/></pattern>';
		$s .= '<pattern id="' . $e( $id ) . '-dots" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#9a6700"/><circle cx="2.5" cy="2.5" r="1.2" fill="#ffffff"/></pattern></defs>';
		$kinds = array(
			'sent'   => array( '#1a7f37', __( 'sent', 'gmail-relay-bridge' ) ),
			'failed' => array( 'url(#' . $id . '-hatch)', __( 'failed (hatched)', 'gmail-relay-bridge' ) ),
			'held'   => array( 'url(#' . $id . '-dots)', __( 'held (dotted)', 'gmail-relay-bridge' ) ),
		);
		$x     = self::LEFT;
		foreach ( $kinds as $kind ) {
			$s .= '<rect x="' . $x . '" y="5" width="12" height="12" fill="' . $e( $kind[0] ) . '" stroke="currentColor" stroke-width="0.5"/>';
			$s .= '<text x="' . ( $x + 16 ) . '" y="15" font-size="11" fill="currentColor">' . $e( $kind[1] ) . '</text>';
			$x += 16 + strlen( $kind[1] ) * 6 + 14;
		}
		$s .= '<line x1="' . self::LEFT . '" y1="' . $baseline . '" x2="' . ( self::WIDTH - self::RIGHT ) . '" y2="' . $baseline . '" stroke="currentColor"/>';
		$s .= '<text class="axis-max" x="' . ( self::LEFT - 4 ) . '" y="' . ( self::TOP + 4 ) . '" font-size="10" text-anchor="end" fill="currentColor">' . $top . '</text>';
		$s .= '<text x="' . ( self::LEFT - 4 ) . '" y="' . ( $baseline + 4 ) . '" font-size="10" text-anchor="end" fill="currentColor">0</text>';
		if ( 0 === $max ) {
			$s .= '<text class="empty" x="' . ( self::LEFT + $plot_width / 2 ) . '" y="' . ( self::TOP + $plot_height / 2 ) . '" font-size="12" text-anchor="middle" fill="currentColor">' . $e( __( 'No mail sent, failed or held in this period', 'gmail-relay-bridge' ) ) . '</text>';
		}
		foreach ( array_values( $buckets ) as $index => $b ) {
			$left  = round( self::LEFT + $index * $slot + ( $slot - $bar_width ) / 2, 1 );
			$y     = $baseline;
			$parts = '';
			foreach ( $kinds as $key => $kind ) {
				$h = $b[ $key ] > 0 ? round( min( $b[ $key ], $top ) / $top * $plot_height, 1 ) : 0;
				if ( $h <= 0 ) {
					continue;
				}
				$y     -= $h;
				$parts .= '<rect class="' . $key . '" x="' . $left . '" y="' . round( $y, 1 ) . '" width="' . $bar_width . '" height="' . $h . '" fill="' . $e( $kind[0] ) . '"/>';
			}
			if ( '' !== $parts ) {
				/* translators: 1: hour, 2: sent, 3: failed, 4: held, 5: accepted */
				$tip = sprintf( __( '%1$s: %2$d sent, %3$d failed, %4$d held, %5$d accepted', 'gmail-relay-bridge' ), self::hour_label( $b['hour'] ), $b['sent'], $b['failed'], $b['held'], $b['queued'] );
				$s  .= '<g><title>' . $e( $tip ) . '</title>' . $parts . '</g>';
			}
			if ( 0 === (int) gmdate( 'G', $b['hour'] ) % 12 ) {
				$s .= '<text x="' . round( $left + $bar_width / 2, 1 ) . '" y="' . ( self::HEIGHT - 5 ) . '" font-size="10" text-anchor="middle" fill="currentColor">' . $e( gmdate( 'H:i', $b['hour'] ) ) . '</text>';
			}
		}
		$s .= '</svg>';

		$s .= '<table class="screen-reader-text"><caption>' . $e( $title ) . '</caption><thead><tr><th scope="col">' . $e( __( 'Hour (UTC)', 'gmail-relay-bridge' ) ) . '</th><th scope="col">' . $e( __( 'Sent', 'gmail-relay-bridge' ) ) . '</th><th scope="col">' . $e( __( 'Failed', 'gmail-relay-bridge' ) ) . '</th><th scope="col">' . $e( __( 'Held', 'gmail-relay-bridge' ) ) . '</th><th scope="col">' . $e( __( 'Accepted', 'gmail-relay-bridge' ) ) . '</th></tr></thead><tbody>';
		foreach ( $buckets as $b ) {
			$s .= '<tr><th scope="row">' . $e( self::hour_label( $b['hour'] ) ) . '</th><td>' . $b['sent'] . '</td><td>' . $b['failed'] . '</td><td>' . $b['held'] . '</td><td>' . $b['queued'] . '</td></tr>';
		}
		$s .= '</tbody></table>';
		return $s;
	}

	/**
	 * @param int $hour Unix time of the hour.
	 * @return string "2026-12-03 08:00 UTC"
	 */
	public static function hour_label( $hour ) {
		return gmdate( 'Y-m-d H:i', $hour ) . ' UTC';
	}

	/**
	 * The widget's chart section (a WordPress call: fetches, caches, escapes).
	 *
	 * @param Gmail_Relay_Bridge_Settings $settings Resolved settings.
	 * @return string HTML, empty without a status URL.
	 */
	public static function widget( Gmail_Relay_Bridge_Settings $settings ) {
		$base   = (string) $settings->get( 'status_url' );
		$errors = $settings->errors();
		if ( '' === $base || isset( $errors['status_url'] ) ) {
			return '';
		}
		$cached = get_transient( self::TRANSIENT );
		if ( is_array( $cached ) && isset( $cached['base'], $cached['result'] ) && $base === $cached['base'] ) {
			$result = $cached['result'];
		} else {
			$result = ( new Gmail_Relay_Bridge_Status_Client( $settings ) )->request( self::stats_url( $base ) );
			set_transient(
				self::TRANSIENT,
				array(
					'base'   => $base,
					'result' => $result,
				),
				self::CACHE_SECONDS
			);
		}
		$title   = __( 'Mail per hour, last 48 hours (UTC)', 'gmail-relay-bridge' );
		$buckets = ( '' === $result['error'] && 200 === $result['code'] ) ? self::from_json( $result['body'] ) : null;
		if ( null === $buckets ) {
			// An older relay without /api/stats answers 404: the rest of the widget still works.
			return '<p class="gmail-relay-bridge-chart-missing">' . htmlspecialchars( __( 'The relay did not send its hourly counts (it may be older than this plugin).', 'gmail-relay-bridge' ), ENT_QUOTES, 'UTF-8' ) . '</p>';
		}
		return '<figure class="gmail-relay-bridge-chart-figure" style="margin:0 0 1em">' . self::svg( $buckets, 'gmail-relay-bridge-chart-48h', $title ) . '</figure>';
	}
}

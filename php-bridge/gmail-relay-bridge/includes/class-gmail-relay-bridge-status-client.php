<?php
/**
 * Reads the relay's status API with WordPress's HTTP API, cached briefly so admin pages stay fast.
 *
 * The requests go through wp_safe_remote_get(), which refuses loopback and private addresses and
 * ports other than 80, 443 and 8080 (wp_http_validate_url()). The relay usually listens on
 * http://127.0.0.1:8025, so exactly the configured status URL's host and port are let through,
 * only for the bridge's own requests.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * Fetches and caches Gmail_Relay_Bridge_Status.
 */
final class Gmail_Relay_Bridge_Status_Client {

	/** Transient holding the last snapshot. */
	const TRANSIENT = 'gmail_relay_bridge_status';

	/** Seconds a snapshot is reused. */
	const CACHE_SECONDS = 60;

	/** Seconds an "unreachable" answer is reused: short, so a restarted relay shows up soon. */
	const ERROR_CACHE_SECONDS = 15;

	/** Seconds per request: admin pages must not hang on a dead relay. */
	const TIMEOUT = 3;

	/** @var Gmail_Relay_Bridge_Settings */
	private $settings;

	/**
	 * @param Gmail_Relay_Bridge_Settings $settings Resolved settings.
	 */
	public function __construct( Gmail_Relay_Bridge_Settings $settings ) {
		$this->settings = $settings;
	}

	/**
	 * @param bool $fresh Skip the cache.
	 * @return Gmail_Relay_Bridge_Status|null Null when no status URL is set.
	 */
	public function get( $fresh = false ) {
		$base = (string) $this->settings->get( 'status_url' );
		if ( '' === $base ) {
			return null;
		}
		$errors = $this->settings->errors();
		if ( isset( $errors['status_url'] ) ) {
			// A token from wp-config.php with a status URL from the settings page: nothing is asked.
			return Gmail_Relay_Bridge_Status::not_asked( $base, $errors['status_url'], time() );
		}
		// The raw HTTP results are cached (plain arrays, no objects in the database) and read again.
		$cached = $fresh ? false : self::cache_get();
		if ( is_array( $cached ) && isset( $cached['base'], $cached['status'], $cached['at'] ) && $base === $cached['base'] && is_array( $cached['status'] ) ) {
			return Gmail_Relay_Bridge_Status::from_results( $base, $cached['status'], isset( $cached['failed'] ) ? $cached['failed'] : null, (int) $cached['at'] );
		}
		$status = $this->request( Gmail_Relay_Bridge_Status::status_url( $base ) );
		$failed = null;
		if ( '' === $status['error'] && 200 === $status['code'] ) {
			$failed = $this->request( Gmail_Relay_Bridge_Status::failed_messages_url( $base ) );
		}
		$now      = time();
		$snapshot = Gmail_Relay_Bridge_Status::from_results( $base, $status, $failed, $now );
		self::cache_set(
			array(
				'base'   => $base,
				'status' => $status,
				'failed' => $failed,
				'at'     => $now,
			),
			$snapshot->reachable ? self::CACHE_SECONDS : self::ERROR_CACHE_SECONDS
		);
		return $snapshot;
	}

	/**
	 * Forgets the cached snapshot (after sending, after saving settings).
	 */
	public static function forget() {
		if ( is_multisite() ) {
			delete_site_transient( self::TRANSIENT );
		} else {
			delete_transient( self::TRANSIENT );
		}
	}

	/**
	 * On a network the status URL and token are the network's, so the sites share one snapshot.
	 *
	 * @return mixed The cached results, false when there are none.
	 */
	private static function cache_get() {
		return is_multisite() ? get_site_transient( self::TRANSIENT ) : get_transient( self::TRANSIENT );
	}

	/**
	 * @param array<string,mixed> $value   Results.
	 * @param int                 $seconds Lifetime.
	 */
	private static function cache_set( array $value, $seconds ) {
		if ( is_multisite() ) {
			set_site_transient( self::TRANSIENT, $value, $seconds );
		} else {
			set_transient( self::TRANSIENT, $value, $seconds );
		}
	}

	/**
	 * One GET of the relay's API (also used by Gmail_Relay_Bridge_Chart for /api/stats).
	 *
	 * @param string $url URL.
	 * @return array{code:int,body:string,error:string}
	 */
	public function request( $url ) {
		// Lower-case "close": WordPress's own "Connection: Close" is not honoured by the relay's web
		// server (it keeps the connection open and WordPress waits for its end until the timeout).
		$headers = array(
			'Accept'     => 'application/json',
			'Connection' => 'close',
		);
		$token = (string) $this->settings->get( 'read_token' );
		if ( '' !== $token ) {
			$headers['Authorization'] = 'Bearer ' . $token;
		}
		$target = self::host_and_port( $url );
		/**
		 * http_request_host_is_external for this request: the status URL's host is allowed
		 * although it is a loopback or private address.
		 *
		 * @param bool   $external Whether WordPress takes the host for an outside one.
		 * @param string $host     Host of the URL being validated.
		 * @return bool
		 */
		$allow_host = static function ( $external, $host ) use ( $target ) {
			return $external || ( null !== $target && strtolower( trim( (string) $host, '.' ) ) === $target['host'] );
		};
		/**
		 * http_allowed_safe_ports for this request: the status URL's port on its host.
		 *
		 * @param int[]  $ports Ports WordPress lets through.
		 * @param string $host  Host of the URL being validated.
		 * @return int[]
		 */
		$allow_port = static function ( $ports, $host ) use ( $target ) {
			if ( null !== $target && null !== $target['port'] && is_array( $ports ) && strtolower( trim( (string) $host, '.' ) ) === $target['host'] ) {
				$ports[] = $target['port'];
			}
			return $ports;
		};
		add_filter( 'http_request_host_is_external', $allow_host, 10, 2 );
		add_filter( 'http_allowed_safe_ports', $allow_port, 10, 2 );
		try {
			$response = wp_safe_remote_get(
				$url,
				array(
					'timeout'     => self::TIMEOUT,
					'redirection' => 0,
					'headers'     => $headers,
				)
			);
		} finally {
			remove_filter( 'http_request_host_is_external', $allow_host, 10 );
			remove_filter( 'http_allowed_safe_ports', $allow_port, 10 );
		}
		if ( is_wp_error( $response ) ) {
			return array(
				'code'  => 0,
				'body'  => '',
				'error' => $response->get_error_message(),
			);
		}
		return array(
			'code'  => (int) wp_remote_retrieve_response_code( $response ),
			'body'  => (string) wp_remote_retrieve_body( $response ),
			'error' => '',
		);
	}

	/**
	 * @param string $url The status URL.
	 * @return array{host:string,port:int|null}|null Lower-case host as wp_http_validate_url() sees it, and the port.
	 */
	private static function host_and_port( $url ) {
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) ) {
			return null;
		}
		return array(
			'host' => strtolower( trim( (string) $parts['host'], '.' ) ),
			'port' => isset( $parts['port'] ) ? (int) $parts['port'] : null,
		);
	}
}

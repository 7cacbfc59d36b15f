<?php
/**
 * Reads the relay's status API with WordPress's HTTP API, cached briefly so admin pages stay fast.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
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
		// The raw HTTP results are cached (plain arrays, no objects in the database) and read again.
		$cached = $fresh ? false : get_transient( self::TRANSIENT );
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
		set_transient(
			self::TRANSIENT,
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
		delete_transient( self::TRANSIENT );
	}

	/**
	 * @param string $url URL.
	 * @return array{code:int,body:string,error:string}
	 */
	private function request( $url ) {
		// Lower-case "close": WordPress's own "Connection: Close" is not honoured by the relay's web
		// server (it keeps the connection open and WordPress waits for its end until the timeout).
		$headers = array(
			'Accept'     => 'application/json',
			'Connection' => 'close',
		);
		$token   = (string) $this->settings->get( 'admin_token' );
		if ( '' !== $token ) {
			$headers['Authorization'] = 'Bearer ' . $token;
		}
		$response = wp_remote_get(
			$url,
			array(
				'timeout'     => self::TIMEOUT,
				'redirection' => 0,
				'headers'     => $headers,
			)
		);
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
}
